import json
import os

from conftest import DEMO_SOURCE, run_job


def test_import_is_reused(model_dir, tmp_path):
    run = run_job("import-model", {"source": DEMO_SOURCE, "output": model_dir}, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert run.last == {"event": "result", "model_dir": model_dir, "params": run.last["params"], "reused": True}
    assert run.last["params"] > 100_000_000
    marker = json.loads(open(os.path.join(model_dir, "isheep-import.json")).read())
    assert marker["source"] == DEMO_SOURCE and len(marker["source_sha256"]) == 64


def test_import_folder_contents(model_dir):
    names = set(os.listdir(model_dir))
    assert {"config.json", "generation_config.json", "tokenizer.json", "isheep-import.json"} <= names
    assert any(n.endswith(".safetensors") for n in names)
    assert not any(n.startswith(".") for n in os.listdir(os.path.dirname(model_dir)) if n.endswith(".tmp"))


def test_tokenizer_round_trip_and_chat_template(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    for text in ["Hello, world!", "  Leading spaces, tabs\tand\nnew lines.", "Ünïcödé — “quotes” 123"]:
        assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    rendered = tok.apply_chat_template([{"role": "user", "content": "Hi there"}], add_generation_prompt=True,
                                       tokenize=False)
    assert "Hi there" in rendered


def test_import_missing_source_is_model_load(tmp_path):
    run = run_job("import-model", {"source": str(tmp_path / "nope.gguf"), "output": str(tmp_path / "out")},
                  tmp_path / "spec.json")
    assert run.rc == 1 and run.last["event"] == "error" and run.last["kind"] == "model_load", run
    assert not (tmp_path / "out").exists()


def test_import_broken_folder_is_model_load(model_dir, tmp_path):
    """A local folder that looks like a model but whose weights are damaged fails clearly, and writes nothing."""
    import shutil

    broken = tmp_path / "broken-model"
    shutil.copytree(model_dir, broken)
    weights = next(p for p in broken.iterdir() if p.suffix == ".safetensors")
    weights.write_bytes(weights.read_bytes()[:4096])  # cut short, as by a failed copy
    out = tmp_path / "out"
    run = run_job("import-model", {"source": str(broken), "output": str(out)}, tmp_path / "spec.json")
    assert run.rc == 1 and run.last["event"] == "error" and run.last["kind"] == "model_load", run
    assert str(broken) in run.last["message"]
    assert not out.exists()
