"""Bad specs and bad input files: an error event of kind bad_input and exit code 2, before any model loads."""

import json

import pytest

from conftest import run_job


def _spec(tmp_path, **over):
    spec = {"model": str(tmp_path / "model"), "input": str(tmp_path / "in.jsonl"),
            "output": str(tmp_path / "out.jsonl"), "sampling": {"max_new_tokens": 4}}
    spec.update(over)
    return spec


def _bad(run, *needles):
    assert run.rc == 2, run
    assert len(run.events) == 1 and run.last["event"] == "error" and run.last["kind"] == "bad_input", run
    for n in needles:
        assert n in run.last["message"], run.last["message"]


def test_unknown_key(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "x"}\n')
    _bad(run_job("generate", _spec(tmp_path, batchsize=4), tmp_path / "s.json"), "batchsize")


def test_unknown_nested_key(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "x"}\n')
    _bad(run_job("generate", _spec(tmp_path, sampling={"temprature": 0}), tmp_path / "s.json"), "temprature")


def test_missing_required_key(tmp_path):
    spec = _spec(tmp_path)
    del spec["output"]
    _bad(run_job("generate", spec, tmp_path / "s.json"), "output")


def test_wrong_type(tmp_path):
    _bad(run_job("generate", _spec(tmp_path, batch_size="8"), tmp_path / "s.json"), "batch_size")


def test_missing_input_file(tmp_path):
    _bad(run_job("generate", _spec(tmp_path), tmp_path / "s.json"), str(tmp_path / "in.jsonl"))


def test_malformed_jsonl_line(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": \n')
    _bad(run_job("generate", _spec(tmp_path), tmp_path / "s.json"), "in.jsonl", "line 2")


def test_duplicate_ids(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "x"}\n\n{"id": "a", "prompt": "y"}\n')
    _bad(run_job("generate", _spec(tmp_path), tmp_path / "s.json"), "line 3", "duplicate")


def test_spec_not_json(tmp_path):
    _bad(run_job("generate", "{not json", tmp_path / "s.json"), "not valid JSON")


def test_relative_path(tmp_path):
    _bad(run_job("generate", _spec(tmp_path, input="in.jsonl"), tmp_path / "s.json"), "absolute")


@pytest.mark.parametrize("job", ["train", "import-model"])
def test_unknown_key_other_jobs(job, tmp_path):
    _bad(run_job(job, {"output": str(tmp_path / "o"), "lerning_rate": 1}, tmp_path / "s.json"), "lerning_rate")


def test_train_malformed_row(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "1", "instruction": "a", "input": "", "response": 3}) + "\n")
    spec = {"base_model": str(tmp_path / "m"), "data": str(tmp_path / "d.jsonl"), "output": str(tmp_path / "o"),
            "work_dir": str(tmp_path / "w")}
    _bad(run_job("train", spec, tmp_path / "s.json"), "line 1", "response")
