"""What earlier work is made from, so that it is reused only for the same: a model folder's identity, generate's
made_from (the fingerprint of its rows) and train's fingerprint. No model is loaded here."""

import json
import os
import shutil

import pytest

from isheep_engine import generate, partial, train
from isheep_engine.identity import MISSING, model_identity
from isheep_engine.spec import check_spec


def _model_folder(path):
    path.mkdir()
    (path / "config.json").write_text("{}")
    (path / "sub").mkdir()
    (path / "sub" / "weights.bin").write_bytes(b"0123")
    return path


def _touch(path, delta_ns=1):
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + delta_ns))


def test_model_identity_is_names_sizes_and_mtimes(tmp_path):
    folder = _model_folder(tmp_path / "m")
    ident = model_identity(str(folder))
    shutil.copytree(folder, tmp_path / "moved")  # copy2 keeps mtimes: the same files, elsewhere
    assert model_identity(str(tmp_path / "moved")) == ident
    (folder / ".lock").write_text("")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "hub.json").write_text("{}")
    assert model_identity(str(folder)) == ident  # hidden entries come and go without changing the model
    _touch(folder / "sub" / "weights.bin")
    assert model_identity(str(folder)) != ident
    touched = model_identity(str(folder))
    (tmp_path / "moved" / "sub" / "weights.bin").write_bytes(b"01234")
    assert model_identity(str(tmp_path / "moved")) not in (ident, touched)
    assert model_identity(str(tmp_path / "nothing")) == MISSING


def _generate_spec(tmp_path, **over):
    """A checked generate spec; the model folder and the input are made the first time."""
    if not (tmp_path / "m").exists():
        _model_folder(tmp_path / "m")
        (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "Hello"}\n')
    spec = {"model": str(tmp_path / "m"), "input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "o.jsonl"),
            "device": "cpu", "sampling": {"max_new_tokens": 4, "seed": 1}, **over}
    return check_spec(spec, generate.GenerateSpec)


def _differs(tmp_path, base, **over):
    return generate.made_from(_generate_spec(tmp_path, **{**base, **over})) != generate.made_from(
        _generate_spec(tmp_path, **base))


def test_transformers_rows_depend_on_batch_size_device_and_cache(tmp_path):
    made = generate.made_from(_generate_spec(tmp_path))
    assert made["backend"] == "transformers" and made["device"] == "cpu" and made["dtype"] == "float32"
    assert made["cache"] == "dynamic" and made["batch_size"] == 16
    for over in [{"batch_size": 4}, {"cache": "static"}, {"dtype": "bfloat16"}, {"system_prompt": "Be brief."},
                 {"stop": ["\n"]}, {"sampling": {"max_new_tokens": 4, "seed": 2}},
                 {"sampling": {"max_new_tokens": 5, "seed": 1}},
                 {"sampling": {"max_new_tokens": 4, "seed": 1, "temperature": 0}}]:
        assert _differs(tmp_path, {}, **over), over
    assert not _differs(tmp_path, {}, compile=False, output=str(tmp_path / "elsewhere.jsonl"))
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "Hello!"}\n')  # same path, other bytes
    assert generate.made_from(_generate_spec(tmp_path)) != made


def test_vllm_rows_do_not_depend_on_batch_size(tmp_path):
    vllm = {"backend": "vllm", "device": "cuda"}  # made_from asks nothing of the device: no GPU needed here
    made = generate.made_from(_generate_spec(tmp_path, **vllm))
    assert made["backend"] == "vllm" and "batch_size" not in made and "device" not in made
    assert not _differs(tmp_path, vllm, batch_size=4, vllm={"gpu_memory_utilization": 0.5})
    assert _differs(tmp_path, vllm, dtype="bfloat16")
    _touch(tmp_path / "m" / "config.json")  # the model folder changed
    assert generate.made_from(_generate_spec(tmp_path, **vllm)) != made


def test_openai_rows_depend_on_the_endpoint_not_on_its_key(tmp_path):
    endpoint = {"base_url": "http://127.0.0.1:8000/v1", "model": "judge-7b"}
    base = {"backend": "openai", "model": None, "endpoint": endpoint}
    made = generate.made_from(_generate_spec(tmp_path, **base))
    assert made["endpoint"] == endpoint and "model" not in made and "batch_size" not in made
    assert "api_key_env" not in json.dumps(made)
    assert not _differs(tmp_path, base, batch_size=3, endpoint={**endpoint, "api_key_env": "OTHER_KEY",
                                                                 "concurrency": 2, "timeout_s": 5, "max_retries": 0})
    assert _differs(tmp_path, base, endpoint={**endpoint, "model": "judge-70b"})
    assert _differs(tmp_path, base, endpoint={**endpoint, "base_url": "http://10.0.0.2:8000/v1"})


def test_stale_reason_names_what_changed(tmp_path):
    made = generate.made_from(_generate_spec(tmp_path))
    partial.write_meta(str(tmp_path / "o.jsonl"), made)
    meta = partial.read_meta(str(tmp_path / "o.jsonl"))
    assert partial.stale_reason(meta, made) is None
    assert partial.stale_reason(meta, {**made, "batch_size": 2, "model": "x"}) == \
        "made from a different batch_size, model"
    assert "no record" in partial.stale_reason(None, made)


def test_train_fingerprint_follows_the_data_bytes_and_the_base_model(tmp_path):
    base = _model_folder(tmp_path / "base")
    data = tmp_path / "data.jsonl"
    row = {"id": "1", "instruction": "Name a planet.", "input": "", "response": "Mars."}
    data.write_text(json.dumps(row) + "\n")
    spec = check_spec({"base_model": str(base), "data": str(data), "output": str(tmp_path / "out"),
                       "work_dir": str(tmp_path / "work")}, train.TrainSpec)
    fingerprint = train.train_fingerprint(spec)
    assert train.train_fingerprint(dict(spec)) == fingerprint
    data.write_text(json.dumps({**row, "response": "Venus."}) + "\n")  # same path, other pairs
    assert train.train_fingerprint(spec) != fingerprint
    data.write_text(json.dumps(row) + "\n")
    assert train.train_fingerprint(spec) == fingerprint
    _touch(base / "sub" / "weights.bin")  # the base model folder was rewritten
    assert train.train_fingerprint(spec) != fingerprint
    assert train.train_fingerprint({**spec, "learning_rate": 1e-3}) != train.train_fingerprint(spec)
