import json
import math
import os
import shutil

import pytest

from conftest import ENGINE, JobRun, engine_env, run_job
from isheep_engine.train_data import IGNORE_INDEX, build_example, split

ROWS = [
    {"id": "1", "instruction": "Give a synonym for happy.", "input": "", "response": "Joyful."},
    {"id": "2", "instruction": "Translate to French.", "input": "Good morning", "response": "Bonjour."},
    {"id": "3", "instruction": "Add the numbers.", "input": "2 and 3", "response": "2 + 3 = 5."},
    {"id": "4", "instruction": "Name a planet.", "input": "", "response": "Mars is a planet."},
    {"id": "5", "instruction": "What colour is the sky?", "input": "", "response": "The sky is blue on a clear day."},
    {"id": "6", "instruction": "Write a greeting.", "input": "", "response": "Hello, nice to meet you!"},
]


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def test_label_mask_covers_only_the_response(tokenizer):
    ex = build_example(tokenizer, "You are a helpful assistant.", "Translate to French.", "Good morning",
                       "Bonjour tout le monde.", 1024)
    ids, labels = ex["input_ids"], ex["labels"]
    assert len(ids) == len(labels) == len(ex["attention_mask"])
    first = next(i for i, l in enumerate(labels) if l != IGNORE_INDEX)
    assert all(l == IGNORE_INDEX for l in labels[:first])
    assert labels[first:] == ids[first:]
    prompt = tokenizer.decode(ids[:first])
    answer = tokenizer.decode(ids[first:])
    assert "You are a helpful assistant." in prompt and "Translate to French.\nGood morning" in prompt
    assert prompt.rstrip().endswith("assistant")  # the prompt ends with the assistant header
    assert answer.startswith("Bonjour tout le monde.") and "Bonjour" not in prompt
    assert tokenizer.eos_token in answer  # the model learns to end its turn
    # the prompt tokens are exactly what generation would see
    gen_prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": "You are a helpful assistant."},
         {"role": "user", "content": "Translate to French.\nGood morning"}], add_generation_prompt=True, tokenize=False)
    assert ids[:first] == tokenizer(gen_prompt, add_special_tokens=False)["input_ids"]


def test_cutoff_and_fully_cut_response(tokenizer):
    full = build_example(tokenizer, None, "Say something long.", "", "word " * 50, 1024)
    first = next(i for i, l in enumerate(full["labels"]) if l != IGNORE_INDEX)
    cut = build_example(tokenizer, None, "Say something long.", "", "word " * 50, first + 3)
    assert len(cut["input_ids"]) == first + 3 and sum(l != IGNORE_INDEX for l in cut["labels"]) == 3
    assert build_example(tokenizer, None, "Say something long.", "", "word " * 50, first) is None


def test_split():
    train, val = split(list(range(10)), 42, None, 0.1)
    assert len(val) == 1 and len(train) == 9 and sorted(train + val) == list(range(10))
    assert split(list(range(10)), 42, None, 0.1) == (train, val)
    assert split(list(range(10)), 42, 4, 0.1)[1] == []  # 0.4 of a row: nothing held out
    assert len(split(list(range(20)), 42, None, 0.1)[1]) == 2
    assert len(split([1, 2], 0, None, 0.5)[1]) == 1
    assert split([1], 0, None, 0.5) == ([1], [])
    assert split(list(range(10)), 42, None, 0.0)[1] == []


def _two_step_spec(model_dir, tmp_path, **over):
    """Two LoRA steps on ROWS (5 to train, 1 held out), written to tmp_path."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    spec = {"base_model": model_dir, "data": str(data), "output": str(tmp_path / "model"),
            "work_dir": str(tmp_path / "work"), "learning_rate": 1e-3, "warmup_steps": 0, "max_steps": 2,
            "cutoff_len": 96, "per_device_batch_size": 2, "gradient_accumulation_steps": 1, "val_fraction": 0.2,
            "device": "cpu"}
    return {**spec, **over}


def test_train_two_steps(model_dir, tmp_path):
    spec = _two_step_spec(model_dir, tmp_path)
    run = run_job("train", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    res = run.last
    assert res["event"] == "result" and res["output"] == spec["output"] and res["steps"] == 2
    assert res["train_samples"] == 5 and res["val_samples"] == 1 and res["reused"] is False
    assert math.isfinite(res["train_loss"]) and res["eval_loss"] is not None and math.isfinite(res["eval_loss"])
    steps = [e for e in run.progress() if "loss" in e]
    assert [e["step"] for e in steps] == [1, 2] and all(e["total_steps"] == 2 for e in steps)
    assert any("eval_loss" in e for e in run.progress())

    # a plain model folder: loads without peft, has a chat template, generates
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = os.listdir(spec["output"])
    assert not any("adapter" in n for n in names), names
    tok = AutoTokenizer.from_pretrained(spec["output"])
    assert tok.chat_template
    model = AutoModelForCausalLM.from_pretrained(spec["output"], dtype=torch.float32)
    prompt = tok.apply_chat_template([{"role": "user", "content": "Name a planet."}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]

    def weights(folder):
        tensors = {}
        for n in os.listdir(folder):
            if n.endswith(".safetensors"):
                tensors.update(load_file(os.path.join(folder, n)))
        return tensors

    base, tuned = weights(model_dir), weights(spec["output"])
    assert set(base) == set(tuned)
    changed = [k for k in base if not torch.equal(base[k], tuned[k])]
    assert any("q_proj" in k for k in changed) and any("mlp" in k for k in changed)
    assert all(tuned[k].dtype == base[k].dtype for k in base)

    again = run_job("train", spec, tmp_path / "spec.json")  # same spec: the finished output is reused
    assert again.rc == 0 and again.last["reused"] is True and again.last["steps"] == 2, again

    # output lost after training finished (a crash while saving): the final checkpoint is used, no extra step
    shutil.rmtree(spec["output"])
    resumed = run_job("train", spec, tmp_path / "spec.json")
    assert resumed.rc == 0 and resumed.last["steps"] == 2 and resumed.last["reused"] is False, resumed
    assert any(e.get("resumed_from") == "checkpoint-2" for e in resumed.progress())
    assert not any("loss" in e for e in resumed.progress())
    assert resumed.last["eval_loss"] == pytest.approx(res["eval_loss"])
    assert resumed.last["train_loss"] == pytest.approx(res["train_loss"])
    again_tuned = weights(spec["output"])
    assert all(torch.equal(tuned[k], again_tuned[k]) for k in tuned)


def test_train_on_changed_data_neither_reuses_the_output_nor_resumes(model_dir, tmp_path):
    """The same spec (same paths) after its data file was rewritten with other pairs: the old output is not taken
    for the new result, and training starts afresh rather than from the old data's checkpoints."""
    spec = _two_step_spec(model_dir, tmp_path, max_steps=1)
    first = run_job("train", spec, tmp_path / "spec.json")
    assert first.rc == 0 and first.last["steps"] == 1, first
    assert os.path.isdir(os.path.join(spec["work_dir"], "checkpoints", "checkpoint-1"))

    changed = [{**r, "response": r["response"].upper()} for r in ROWS]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in changed))
    again = run_job("train", spec, tmp_path / "spec.json")
    aside = [e for e in again.progress() if e.get("stage") == "discarded stale output"]
    assert len(aside) == 1 and ".stale-" in aside[0]["moved_to"], again
    assert os.path.isfile(os.path.join(aside[0]["moved_to"], "isheep-train.json"))  # the old model, kept whole
    assert again.rc == 0 and again.last["reused"] is False and again.last["steps"] == 1, again
    start = next(e for e in again.progress() if e.get("stage") == "training")
    assert start["resumed_from"] is None, start
    assert [e["step"] for e in again.progress() if "loss" in e] == [1]  # trained, on the new pairs
    assert "removing checkpoints of a different spec, data file or base model" in again.stderr
    assert again.last["train_loss"] != first.last["train_loss"]


def test_train_no_usable_rows(model_dir, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "1", "instruction": "Hi", "input": "", "response": "  "}) + "\n")
    spec = {"base_model": model_dir, "data": str(data), "output": str(tmp_path / "model"),
            "work_dir": str(tmp_path / "work"), "device": "cpu"}
    run = run_job("train", spec, tmp_path / "spec.json")
    assert run.rc == 2 and run.last["kind"] == "bad_input" and "no usable" in run.last["message"], run


def test_train_under_torchrun_two_processes(model_dir, tmp_path):
    """DDP on CPU (gloo): two ranks train, rank 0 alone speaks and writes; a re-run is reused."""
    import subprocess
    import sys

    spec = _two_step_spec(model_dir, tmp_path, cutoff_len=48, per_device_batch_size=1)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = engine_env()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "isheep_engine", "train", "--spec", str(tmp_path / "spec.json")]

    def launch() -> JobRun:
        return JobRun(subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=str(ENGINE)))

    run = launch()
    assert run.rc == 0, run
    results = [e for e in run.events if e["event"] == "result"]
    assert len(results) == 1 and run.last is results[0], run
    assert not [e for e in run.events if e["event"] == "error"], run
    assert [e["stage"] for e in run.progress() if "stage" in e].count("loading") == 1, run  # one voice
    res = results[0]
    assert res["steps"] == 2 and res["train_samples"] == 5 and res["val_samples"] == 1 and res["reused"] is False
    assert math.isfinite(res["train_loss"]) and math.isfinite(res["eval_loss"])
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(spec["output"])

    again = launch()
    assert again.rc == 0, again
    assert [e["event"] for e in again.events].count("result") == 1 and again.last["reused"] is True, again
