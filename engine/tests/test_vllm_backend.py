"""The vLLM backend, driven against tests/fake_vllm (vLLM itself needs a GPU and pins its own torch): what it asks
of vLLM, the rows it writes, resuming after a kill, and when "auto" picks it."""

import json
import os
from pathlib import Path

import pytest

from conftest import run_job
from isheep_engine import generate, vllm_backend
from isheep_engine.generate import choose_backend
from isheep_engine.rows import Request, render_ids
from isheep_engine.models import load_tokenizer

FAKE_VLLM = Path(__file__).resolve().parent / "fake_vllm"
ROWS = [
    {"id": f"r{i}", "prompt": f"Write item {i} of a list of fruits:\n1."} for i in range(4)
] + [
    {"id": f"c{i}", "messages": [{"role": "user", "content": f"Name {i + 2} colors."}]} for i in range(4)
]
SYSTEM = "You are a helpful assistant."


def _setup(model_dir, tmp_path, **over):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    spec = {"backend": "vllm", "model": model_dir, "input": str(tmp_path / "in.jsonl"),
            "output": str(tmp_path / "out" / "gen.jsonl"),
            "sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 8, "seed": 11},
            "device": "cuda", "system_prompt": SYSTEM}
    spec.update(over)
    return spec


def _run(spec, tmp_path, **env):
    log = tmp_path / "vllm-log.jsonl"
    return run_job("generate", spec, tmp_path / "spec.json", pythonpath=[FAKE_VLLM],
                   env={"FAKE_VLLM_LOG": str(log), **env}), log


def _read(path):
    return [json.loads(line) for line in open(path)]


def test_vllm_backend_asks_for_what_the_spec_says(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path)
    run, log = _run(spec, tmp_path, CUDA_VISIBLE_DEVICES="2,3")
    assert run.rc == 0, run
    entries = _read(log)
    llm = entries[0]["llm"]
    assert llm["model"] == model_dir and llm["tensor_parallel_size"] == 2  # the slot's two GPUs
    assert llm["seed"] == 11 and llm["generation_config"] == "vllm" and llm["dtype"] == "auto"
    assert llm["gpu_memory_utilization"] == 0.9 and llm["enforce_eager"] is False and "max_model_len" not in llm
    requests = [e for e in entries if "request" in e]
    assert len(requests) == len(ROWS)
    tok = load_tokenizer(model_dir)
    want_eos = [tok.eos_token_id]
    seeds = set()
    for e, row in zip(requests, ROWS):
        p = e["params"]
        assert p["temperature"] == 1.0 and p["top_p"] == 0.95 and p["top_k"] == 0 and p["max_tokens"] == 8
        assert p["output_kind"] == "FINAL_ONLY" and p["stop"] is None
        assert set(want_eos) <= set(p["stop_token_ids"])
        assert p["seed"] == vllm_backend.row_seed(11, row["id"])
        seeds.add(p["seed"])
        # the same token ids as the transformers backend renders (raw text, or the chat template + system prompt)
        req = Request(0, row["id"], prompt=row.get("prompt"), messages=row.get("messages"))
        assert e["prompt_tokens"] == len(render_ids(tok, req, SYSTEM))
    assert len(seeds) == len(ROWS)

    rows = _read(spec["output"])
    assert [r["id"] for r in rows] == [r["id"] for r in ROWS]
    for r, e in zip(rows, requests):
        assert r["text"].startswith("w") and r["prompt_tokens"] == e["prompt_tokens"]
        assert r["finish_reason"] in ("stop", "length") and 0 < r["new_tokens"] <= 11
    res = run.last
    assert res["event"] == "result" and res["rows"] == len(ROWS)
    assert res["new_tokens"] == sum(r["new_tokens"] for r in rows)
    assert run.events[0] == {"event": "progress", "stage": "loading"}
    assert run.progress()[-1]["done"] == len(ROWS)


def test_vllm_options_and_greedy_reach_vllm(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 4, "seed": 3}, stop=["\n\n"],
                  dtype="bfloat16",
                  vllm={"tensor_parallel_size": 1, "gpu_memory_utilization": 0.5, "max_model_len": 2048,
                        "enforce_eager": True})
    run, log = _run(spec, tmp_path, CUDA_VISIBLE_DEVICES="0,1")
    assert run.rc == 0, run
    entries = _read(log)
    llm = entries[0]["llm"]
    assert llm["tensor_parallel_size"] == 1 and llm["gpu_memory_utilization"] == 0.5
    assert llm["max_model_len"] == 2048 and llm["enforce_eager"] is True and llm["dtype"] == "bfloat16"
    for e in entries[1:]:
        p = e["params"]
        assert p["temperature"] == 0.0 and p["top_p"] == 1.0 and p["seed"] is None and p["stop"] == ["\n\n"]
    rows = _read(spec["output"])
    assert any(r["finish_reason"] == "length" and r["new_tokens"] == 4 for r in rows)


def test_killed_vllm_job_resumes_to_the_same_rows(model_dir, tmp_path):
    whole = tmp_path / "whole"
    whole.mkdir()
    spec = _setup(model_dir, whole)
    run, _ = _run(spec, whole)
    assert run.rc == 0, run
    expected = _read(spec["output"])

    part = tmp_path / "part"
    part.mkdir()
    spec = _setup(model_dir, part)
    run, log = _run(spec, part, FAKE_VLLM_CRASH_AFTER="5", FAKE_VLLM_PER_STEP="1")
    assert run.rc != 0
    saved = _read(spec["output"] + ".partial")
    assert 1 <= len(saved) <= 5  # rows reach the partial file as they finish
    run, log = _run(spec, part)
    assert run.rc == 0, run
    assert _read(spec["output"]) == expected
    asked_again = [e for e in _read(log) if "request" in e][-(len(ROWS) - len(saved)):]
    assert len(asked_again) == len(ROWS) - len(saved)
    assert any(e.get("resumed") == len(saved) for e in run.progress())


def test_vllm_backend_without_vllm_is_bad_input(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path)
    hidden = tmp_path / "no_vllm"
    hidden.mkdir()
    # sitecustomize runs at start-up: it makes `vllm` unfindable even where the environment has it installed
    (hidden / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoVllm:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'vllm' or name.startswith('vllm.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoVllm())\n")
    run = run_job("generate", spec, tmp_path / "spec.json", pythonpath=[hidden])
    assert run.rc == 2 and run.last["kind"] == "bad_input", run
    assert "vllm package is not installed" in run.last["message"]


def test_vllm_backend_without_a_device_is_bad_input_not_a_crash(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path)
    run, log = _run(spec, tmp_path, FAKE_VLLM_DEVICE="")
    assert run.rc == 2 and run.last["kind"] == "bad_input", run
    assert "no device" in run.last["message"] and not log.exists()


def test_auto_picks_vllm_only_on_cuda_with_vllm_installed(monkeypatch):
    assert choose_backend("transformers", "cuda") == "transformers"
    assert choose_backend("openai", "auto") == "openai"
    monkeypatch.setattr(vllm_backend, "vllm_installed", lambda: True)
    assert choose_backend("auto", "cpu") == "transformers"
    monkeypatch.setattr(generate, "resolve_device", lambda d: "cuda")
    assert choose_backend("auto", "auto") == "vllm"
    monkeypatch.setattr(generate, "resolve_device", lambda d: "cpu")
    assert choose_backend("auto", "auto") == "transformers"
    monkeypatch.setattr(vllm_backend, "vllm_installed", lambda: False)
    monkeypatch.setattr(generate, "resolve_device", lambda d: "cuda")
    assert choose_backend("auto", "cuda") == "transformers"


def test_auto_on_cpu_generates_with_transformers_even_with_vllm_importable(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path, backend="auto", device="cpu", sampling={"temperature": 0, "max_new_tokens": 3,
                                                                             "seed": 1})
    run, log = _run(spec, tmp_path)
    assert run.rc == 0, run
    assert not log.exists()  # the fake vllm was never asked
    assert len(_read(spec["output"])) == len(ROWS)


def test_tensor_parallel_size_follows_the_slot(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    assert vllm_backend.tensor_parallel_size(None) == 4
    assert vllm_backend.tensor_parallel_size(2) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert vllm_backend.tensor_parallel_size(None) == 1


def test_top_logprobs_are_asked_of_vllm_and_written_most_likely_first(model_dir, tmp_path):
    spec = _setup(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 4, "seed": 3}, top_logprobs=3)
    run, log = _run(spec, tmp_path, CUDA_VISIBLE_DEVICES="0")
    assert run.rc == 0, run
    assert all(e["params"]["logprobs"] == 3 for e in _read(log) if "request" in e)
    for row in _read(spec["output"]):
        top = row["top_logprobs"]
        assert [t["token"] for t in top] == [row["text"].split(" ")[0], "alt0", "alt1"]
        assert [t["logprob"] for t in top] == pytest.approx([-0.693147, -1.386294, -2.079442], abs=1e-5)
    plain = _setup(model_dir, tmp_path, output=str(tmp_path / "plain.jsonl"))
    run, log = _run(plain, tmp_path, CUDA_VISIBLE_DEVICES="0")
    assert run.rc == 0 and all("top_logprobs" not in r for r in _read(plain["output"]))
