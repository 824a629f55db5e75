"""Checking a spec against its model: what a job gets (every default, integers kept integers) and what a bad
spec is told (each bad field by its path). No job runs here; tests/test_errors.py runs them."""

import pytest

from isheep_engine.generate import GenerateSpec
from isheep_engine.import_model import ImportModelSpec
from isheep_engine.protocol import BadInput
from isheep_engine.spec import check_spec
from isheep_engine.train import TrainSpec

GEN = {"model": "/m", "input": "/in.jsonl", "output": "/out.jsonl"}
TRAIN = {"base_model": "/b", "data": "/d.jsonl", "output": "/o", "work_dir": "/w"}


def _complaint(spec, model=GenerateSpec):
    with pytest.raises(BadInput) as err:
        check_spec(spec, model, "spec s.json")
    return str(err.value)


def test_defaults_are_filled_in_and_numbers_keep_their_kind():
    spec = check_spec({**GEN, "sampling": {"temperature": 0}}, GenerateSpec)
    assert spec["sampling"] == {"temperature": 0.0, "top_p": 0.95, "max_new_tokens": 1000, "seed": 1234}
    assert isinstance(spec["sampling"]["temperature"], float)  # an integer given for a number is a number
    assert spec["vllm"]["gpu_memory_utilization"] == 0.9 and spec["endpoint"] is None and spec["compile"] == "auto"
    train = check_spec({**TRAIN, "epochs": 3, "lora": {"alpha": 16.5}}, TrainSpec)
    assert train["epochs"] == 3 and isinstance(train["epochs"], int)  # 3, not 3.0: it is part of the fingerprint
    assert train["lora"] == {"r": 8, "alpha": 16.5, "dropout": 0.05, "target_modules": "all-linear"}
    assert train["max_samples"] == 3000 and train["system_prompt"] == "You are a helpful assistant."


@pytest.mark.parametrize("over, needles", [
    ({"batchsize": 4}, ["spec s.json: batchsize: unknown key (allowed here: backend, batch_size,"]),
    ({"sampling": {"temprature": 0}}, ["sampling.temprature: unknown key (allowed here: max_new_tokens, seed,"]),
    ({"sampling": {"top_p": 2}}, ["sampling.top_p: must be <= 1 (got 2)"]),
    ({"batch_size": "8"}, ['batch_size: expected an integer, got "8"']),
    ({"batch_size": True}, ["batch_size: expected an integer, got true"]),
    ({"batch_size": 2.0}, ["batch_size: expected an integer, got 2.0"]),
    ({"device": "gpu"}, ["device: 'gpu' is not one of 'auto', 'cpu' or 'cuda'"]),
    ({"compile": "yes"}, ['compile: must be "auto", true or false (got \'yes\')']),
    ({"stop": ["", "x"]}, ["stop: must be a list of non-empty strings"]),
    ({"input": "in.jsonl"}, ["input: path must be absolute (got 'in.jsonl')"]),
    ({"sampling": None}, ["sampling: expected an object, got null"]),
    ({"endpoint": {"base_url": "ftp://h"}}, ["endpoint.base_url: must be an http:// or https:// URL",
                                             "endpoint.model: required, but missing"]),
    ({"vllm": {"max_model_len": 0}, "sampling": {"temperature": -1}},
     ["sampling.temperature: must be >= 0 (got -1)", "; vllm.max_model_len: must be > 0 (got 0)"]),
])
def test_a_bad_generate_spec_names_each_bad_field(over, needles):
    message = _complaint({**GEN, **over})
    for needle in needles:
        assert needle in message, message


def test_a_bad_train_or_import_spec_names_each_bad_field():
    assert "epochs: must be a number > 0 (got 0)" in _complaint({**TRAIN, "epochs": 0}, TrainSpec)
    assert "lora.target_modules: must be \"all-linear\" or a non-empty list" in \
        _complaint({**TRAIN, "lora": {"target_modules": []}}, TrainSpec)
    assert "lr_scheduler: 'cosin' is not one of 'linear', 'cosine'," in _complaint({**TRAIN, "lr_scheduler": "cosin"},
                                                                                  TrainSpec)
    assert "work_dir: required, but missing" in _complaint({k: v for k, v in TRAIN.items() if k != "work_dir"},
                                                           TrainSpec)
    assert "source: must not be empty (got ' ')" in _complaint({"source": " ", "output": "/o"}, ImportModelSpec)
    assert _complaint([1], ImportModelSpec) == "spec s.json: expected an object, got [1]"
