"""run-lm-eval, for real: lm-eval's simple_evaluate with its hf model on the demo model (CPU), on tiny tasks of
local data (tests/fixtures/lm_eval_tasks: a multiple_choice task scored by loglikelihood and a generate_until
task scored by exact_match). The loglikelihoods lm-eval reports are checked against the model's own, computed
here with transformers; the per-item records against the aggregate figures; few-shot prompts against the seed.
Bad input: a missing model folder or one without config.json, unknown task names (close matches and how to
list them), a dataset that is neither local nor cached while offline, a task whose utils need a module the
environment lacks, bad spec fields."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest

from conftest import run_job

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lm_eval_tasks"
MC_ITEMS = [json.loads(line) for line in (FIXTURES / "isheep_test_mc.jsonl").read_text().splitlines()]
GEN_ITEMS = [json.loads(line) for line in (FIXTURES / "isheep_test_gen.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory) -> Path:
    """The fixture task YAMLs with __FIXTURES__ made the fixture folder's absolute path (wherever the repo is)."""
    folder = tmp_path_factory.mktemp("lm_eval_tasks")
    for yaml in FIXTURES.glob("*.yaml"):
        (folder / yaml.name).write_text(yaml.read_text().replace("__FIXTURES__", str(FIXTURES)))
    return folder


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    """Offline, with a datasets cache of the test's own."""
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}


def evaluate(tmp_path: Path, model_dir: str, tasks_dir: Path, tasks: list[str], name: str = "run",
             env: dict | None = None, samples: bool = True, **spec_extra):
    out, rows = tmp_path / f"{name}.json", tmp_path / f"{name}.samples.jsonl"
    spec = {"model": model_dir, "tasks": tasks, "output": str(out), "samples": str(rows) if samples else None,
            "include_path": str(tasks_dir), **spec_extra}
    started = time.monotonic()
    run = run_job("run-lm-eval", spec, tmp_path / f"{name}.spec.json", env=env)
    print(f"run-lm-eval {tasks} {spec_extra}: {time.monotonic() - started:.1f} s")
    output = json.loads(out.read_text()) if out.exists() else None
    records = [json.loads(line) for line in rows.read_text().splitlines()] if samples and rows.exists() else None
    return run, output, records


def model_loglikelihoods(model_dir: str, pairs: list[tuple[str, str]]) -> list[float]:
    """log P(continuation | context) by the model itself, tokenized as lm-eval's hf model does (the whole string
    encoded, the context's tokens cut off the front); one right-padded batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    wholes = [tok(c + x, add_special_tokens=False)["input_ids"] for c, x in pairs]
    starts = [len(tok(c, add_special_tokens=False)["input_ids"]) for c, _ in pairs]
    width = max(map(len, wholes))
    ids = torch.tensor([w + [0] * (width - len(w)) for w in wholes])
    mask = torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in wholes])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    return [sum(float(logprobs[row, i - 1, whole[i]]) for i in range(start, len(whole)))
            for row, (whole, start) in enumerate(zip(wholes, starts))]


def test_multiple_choice_and_generation_on_local_data(tmp_path, model_dir, tasks_dir, env):
    run, output, records = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_mc", "isheep_test_gen"],
                                    env={**env, "ISHEEP_LM_EVAL_HEARTBEAT_S": "0.2"}, batch_size=4)
    assert run.rc == 0 and run.last["event"] == "result", run
    result = run.last

    # events: the stages in order, and heartbeats that read lm-eval's progress bars
    stages = [e["stage"] for e in run.progress() if "elapsed_s" not in e]
    assert stages == ["indexing tasks", "loading tasks", "loading model", "evaluating"], stages
    beats = [e for e in run.progress() if "elapsed_s" in e]
    assert beats, run
    counted = [b for b in beats if "requests" in b]
    assert {b["requests"] for b in counted} & {"loglikelihood", "generate_until"}, beats
    assert all(0 <= b["done"] <= b["total"] for b in counted), counted

    # the result event and the output file
    assert result["lm_eval_version"] == output["lm_eval_version"] == "0.4.13"
    assert result["output"] == str(tmp_path / "run.json") and result["samples"] == str(tmp_path / "run.samples.jsonl")
    assert result["n_samples"] == {"isheep_test_mc": len(MC_ITEMS), "isheep_test_gen": len(GEN_ITEMS)}
    assert set(output["tasks"]) == {"isheep_test_mc", "isheep_test_gen"} and output["groups"] == {}
    mc, gen = output["tasks"]["isheep_test_mc"], output["tasks"]["isheep_test_gen"]
    assert result["tasks"] == {"isheep_test_mc": mc["metrics"], "isheep_test_gen": gen["metrics"]}
    assert set(mc["metrics"]) == {"acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"}
    assert set(gen["metrics"]) == {"exact_match,first-number", "exact_match_stderr,first-number"}
    assert mc["output_type"] == "multiple_choice" and gen["output_type"] == "generate_until"
    assert mc["n_samples"] == {"original": len(MC_ITEMS), "effective": len(MC_ITEMS)}
    assert mc["num_fewshot"] == 0 and mc["higher_is_better"] == {"acc": True, "acc_norm": True}
    assert mc["task_config"]["dataset_kwargs"]["data_files"]["test"] == str(FIXTURES / "isheep_test_mc.jsonl")
    config = output["config"]
    assert config["model_args"] == {"pretrained": model_dir, "dtype": "float32"}  # "auto" on CPU
    assert (config["device"], config["dtype"], config["batch_size"], config["seed"]) == ("cpu", "float32", 4, 1234)
    assert config["model_num_parameters"] > 100_000_000 and config["model_dtype"] == "float32"
    assert output["model"] == model_dir and output["samples"] == result["samples"]

    # the per-item records: one per item, JSON all through, adding up to the aggregates
    by_task = {t: [r for r in records if r["task"] == t] for t in ("isheep_test_mc", "isheep_test_gen")}
    assert [r["doc_id"] for r in by_task["isheep_test_mc"]] == list(range(len(MC_ITEMS)))
    assert [r["doc_id"] for r in by_task["isheep_test_gen"]] == list(range(len(GEN_ITEMS)))
    for task, key in (("isheep_test_mc", "acc,none"), ("isheep_test_gen", "exact_match,first-number")):
        metric = key.split(",")[0]
        values = [r["metrics"][metric] for r in by_task[task]]
        assert all(v in (0, 1) for v in values), values
        assert math.isclose(sum(values) / len(values), output["tasks"][task]["metrics"][key])
        n, p = len(values), sum(values) / len(values)
        stderr = output["tasks"][task]["metrics"][key.replace(",", "_stderr,")]
        assert math.isclose(stderr, math.sqrt(p * (1 - p) / (n - 1)), abs_tol=1e-12)  # lm-eval's mean_stderr

    for record, item in zip(by_task["isheep_test_mc"], MC_ITEMS):
        assert record["target"] == item["answer"] and record["filter"] == "none"
        assert record["prompt"] == f"Question: {item['question']}\nAnswer:"
        assert record["choices"] == [" " + c for c in item["choices"]]
        assert len(record["responses"]) == len(item["choices"])
        assert all(isinstance(ll, float) and isinstance(greedy, bool) for ll, greedy in record["responses"])
    for record, item in zip(by_task["isheep_test_gen"], GEN_ITEMS):
        assert record["target"] == item["answer"] and record["filter"] == "first-number"
        assert record["prompt"] == item["question"] and "choices" not in record
        raw = record["raw_responses"][0][0]
        assert isinstance(raw, str) and "\n" not in raw  # stopped at the newline
        assert record["metrics"]["exact_match"] == (record["responses"][0] == item["answer"])

    # lm-eval's loglikelihoods are the model's own, and acc is the argmax of them
    pairs = [(r["prompt"], c) for r in by_task["isheep_test_mc"] for c in r["choices"]]
    ours = iter(model_loglikelihoods(model_dir, pairs))
    for record in by_task["isheep_test_mc"]:
        expected = [next(ours) for _ in record["choices"]]
        got = [ll for ll, _ in record["responses"]]
        assert got == pytest.approx(expected, abs=2e-3), (record, expected)
        best = max(range(len(got)), key=got.__getitem__)
        assert record["metrics"]["acc"] == float(best == record["target"])


def test_few_shot_prompts_follow_the_seed_and_limit_counts_items(tmp_path, model_dir, tasks_dir, env):
    spec = {"limit": 3, "num_fewshot": 2, "seed": 7}
    first = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_mc"], "first", env, **spec)
    again = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_mc"], "again", env, **spec)
    for run, output, records in (first, again):
        assert run.rc == 0, run
        assert output["tasks"]["isheep_test_mc"]["n_samples"] == {"original": len(MC_ITEMS), "effective": 3}
        assert output["tasks"]["isheep_test_mc"]["num_fewshot"] == 2 and run.last["n_samples"]["isheep_test_mc"] == 3
        assert [r["doc_id"] for r in records] == [0, 1, 2]
        for r in records:  # two solved examples, then the item's own question
            assert r["prompt"].count("Question: ") == 3, r["prompt"]
            assert r["prompt"].endswith(f"Question: {MC_ITEMS[r['doc_id']]['question']}\nAnswer:")
    assert first[2] == again[2]  # the same seed: the same examples, the same scores
    assert first[1]["tasks"] == again[1]["tasks"]


def test_group_and_no_samples(tmp_path, model_dir, tasks_dir, env):
    run, output, records = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_group"], env=env, samples=False,
                                    limit=2, bootstrap_iters=0,
                                    gen_kwargs={"max_gen_toks": 4, "until": ["\n"]})
    assert run.rc == 0, run
    assert records is None and not (tmp_path / "run.samples.jsonl").exists()
    assert run.last["samples"] is None and output["samples"] is None
    assert set(output["tasks"]) == {"isheep_test_mc", "isheep_test_gen"}
    group = output["groups"]["isheep_test_group"]
    assert group["subtasks"] == ["isheep_test_mc", "isheep_test_gen"]
    assert group["metrics"]["acc,none"] == output["tasks"]["isheep_test_mc"]["metrics"]["acc,none"]
    assert run.last["groups"] == {"isheep_test_group": group["metrics"]}
    assert output["tasks"]["isheep_test_mc"]["metrics"]["acc_stderr,none"] is None  # lm-eval's "N/A": 2 items
    assert output["config"]["gen_kwargs"] == {"max_gen_toks": 4, "until": ["\n"]}
    assert output["tasks"]["isheep_test_gen"]["task_config"]["generation_kwargs"]["max_gen_toks"] == 4


# --- bad input -------------------------------------------------------------------------------------------------


def bad_input(run) -> str:
    assert run.rc == 2 and run.last["event"] == "error" and run.last["kind"] == "bad_input", run
    return run.last["message"]


def test_model_folder_missing_or_without_config(tmp_path, tasks_dir, env):
    run, _, _ = evaluate(tmp_path, str(tmp_path / "nowhere"), tasks_dir, ["isheep_test_mc"], env=env)
    assert "does not exist" in bad_input(run) and str(tmp_path / "nowhere") in run.last["message"]
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    run, _, _ = evaluate(tmp_path, str(tmp_path / "adapter"), tasks_dir, ["isheep_test_mc"], env=env)
    message = bad_input(run)
    assert "has no config.json" in message and "LoRA adapter" in message


def test_unknown_task_names_get_close_matches(tmp_path, model_dir, tasks_dir, env):
    run, output, _ = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_mcq", "hellaswg", "isheep_test_gen"],
                              env=env)
    message = bad_input(run)
    assert "'isheep_test_mcq' (close: isheep_test_mc" in message, message
    assert "'hellaswg' (close: hellaswag" in message, message
    assert "isheep_test_gen" not in message.split("close")[0]
    assert f"python -m lm_eval ls tasks --include_path {tasks_dir}" in message
    assert output is None
    assert [e["stage"] for e in run.progress() if "elapsed_s" not in e] == ["indexing tasks"]  # no model loaded


def test_hub_dataset_while_offline(tmp_path, model_dir, env):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "hub.yaml").write_text((FIXTURES / "isheep_test_mc.yaml").read_text()
                                    .replace("task: isheep_test_mc", "task: isheep_test_hub")
                                    .replace("dataset_path: json", "dataset_path: isheep-tests/no-such-dataset")
                                    .replace("dataset_kwargs:\n  data_files:\n    test: __FIXTURES__/isheep_test_mc.jsonl\n", ""))
    run, _, _ = evaluate(tmp_path, model_dir, tasks, ["isheep_test_hub"], env=env)
    message = bad_input(run)
    assert "task 'isheep_test_hub': its dataset cannot be loaded offline" in message, message
    assert "isheep-tests/no-such-dataset" in message and "HF_HUB_OFFLINE" in message and "data_files" in message
    assert "loading model" not in [e.get("stage") for e in run.progress()]


def test_task_needing_a_missing_module(tmp_path, model_dir, env):
    tasks = tmp_path / "tasks"
    shutil.copytree(FIXTURES, tasks)
    (tasks / "needs_module.py").write_text("import isheep_no_such_module\n\n\ndef docs(dataset):\n    return dataset\n")
    (tasks / "isheep_test_mc.yaml").write_text((FIXTURES / "isheep_test_mc.yaml").read_text()
                                               .replace("__FIXTURES__", str(FIXTURES))
                                               + "process_docs: !function needs_module.docs\n")
    run, _, _ = evaluate(tmp_path, model_dir, tasks, ["isheep_test_mc"], env=env)
    message = bad_input(run)
    assert "task 'isheep_test_mc' needs the Python module 'isheep_no_such_module'" in message, message


def test_bad_spec_fields(tmp_path):
    spec = {"model": "relative/model", "tasks": [], "output": str(tmp_path / "o.json"), "limit": 0,
            "num_fewshot": -1, "device": "gpu", "dtype": "int8", "batch_size": "8", "extra": 1}
    message = bad_input(run_job("run-lm-eval", spec, tmp_path / "spec.json"))
    for part in ("model: path must be absolute", "tasks: must not be empty", "limit: must be > 0",
                 "num_fewshot: must be >= 0", 'device: must be "cpu", "cuda" or "cuda:N"', "dtype: 'int8' is not one of",
                 "batch_size: expected an integer", "extra: unknown key"):
        assert part in message, (part, message)
    twice = {"model": "/m", "tasks": ["a", "a"], "output": str(tmp_path / "o.json")}
    assert "tasks: must not name a task twice" in bad_input(run_job("run-lm-eval", twice, tmp_path / "spec2.json"))


def test_cuda_where_there_is_none(tmp_path, model_dir, tasks_dir, env):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run, _, _ = evaluate(tmp_path, model_dir, tasks_dir, ["isheep_test_mc"], env=env, device="cuda:0")
    assert "torch sees no CUDA device" in bad_input(run)
