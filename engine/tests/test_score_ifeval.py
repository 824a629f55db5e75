"""score-ifeval: IFEval's 541 prompts scored by the job agree, item by item, with lm-eval's checker called here
directly; crafted responses pass and fail the instructions they target; the same input always scores the
same; a missing punkt_tab and a bad spec or row are bad_input.

IFEval's prompts come from ../shared/eval/ifeval/input_data.jsonl (beside the clone); without them these tests
fail, they do not skip."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import pytest

from conftest import ENGINE, run_job

IFEVAL = ENGINE.parent.parent / "shared" / "eval" / "ifeval" / "input_data.jsonl"
SEED = 0


@pytest.fixture(scope="module")
def ifeval_rows() -> list[dict]:
    if not IFEVAL.is_file():
        pytest.fail(f"IFEval's prompts are missing: {IFEVAL} does not exist (the shared evaluation data beside the "
                    "clone, shared/eval/ifeval/input_data.jsonl); these tests need all 541 of them")
    rows = [json.loads(line) for line in IFEVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 541, f"{IFEVAL} holds {len(rows)} prompts, expected IFEval's 541"
    return rows


@pytest.fixture(scope="module")
def reference():
    """lm-eval's ifeval utils, imported here as a plain dependency (its parent packages stubbed: lm_eval's
    package __init__ chain pulls datasets and torch), with nltk.download disarmed."""
    import nltk

    def no_download(*args, **kwargs):
        raise AssertionError(f"nltk.download{args} called: punkt_tab should be installed in the venv")

    nltk.download = no_download
    root = Path(importlib.util.find_spec("lm_eval").origin).parent
    for name, folder in (("lm_eval", root), ("lm_eval.tasks", root / "tasks"),
                         ("lm_eval.tasks.ifeval", root / "tasks" / "ifeval")):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(folder)]
            sys.modules[name] = module
    from lm_eval.tasks.ifeval import utils

    return utils


def items_of(rows: list[dict], respond) -> list[dict]:
    return [{"id": r["key"], "prompt": r["prompt"], "instruction_id_list": r["instruction_id_list"],
             "kwargs": r["kwargs"], "response": respond(r)} for r in rows]


def reference_rows(utils, items: list[dict], seed: int = SEED) -> list[dict]:
    """What lm-eval says of each item, seeded as the job promises: langdetect once, `random` before each item."""
    import langdetect

    langdetect.DetectorFactory.seed = seed
    out = []
    for item in items:
        random.seed(seed)
        doc = {"key": item["id"], "prompt": item["prompt"], "instruction_id_list": item["instruction_id_list"],
               "kwargs": item["kwargs"]}
        verdict = utils.process_results(doc, [item["response"]])
        out.append({"id": item["id"], "instruction_id_list": item["instruction_id_list"],
                    "prompt_strict": verdict["prompt_level_strict_acc"],
                    "prompt_loose": verdict["prompt_level_loose_acc"],
                    "instruction_strict": verdict["inst_level_strict_acc"],
                    "instruction_loose": verdict["inst_level_loose_acc"]})
    return out


def score(tmp_path: Path, items: list[dict], name: str = "run", **spec_extra):
    src = tmp_path / f"{name}.in.jsonl"
    src.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    out = tmp_path / f"{name}.out.jsonl"
    run = run_job("score-ifeval", {"input": str(src), "output": str(out), "seed": SEED, **spec_extra},
                  tmp_path / f"{name}.spec.json")
    return run, out


def read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _kitchen_sink(row: dict) -> str:
    """A response in many formats at once: a title, bullets, highlights, sections, a postscript."""
    return ("<<A Short Title>>\n\n* first point\n* second point\n* third point\n\n*highlighted part one* and "
            "*highlighted part two*\n\nSECTION 1\nthe prompt was: " + row["prompt"] + "\n\nSECTION 2\nthat is all"
            "\n\nP.S. thank you")


RESPONSE_SETS = {
    "empty": lambda r: "",
    "echo": lambda r: r["prompt"],
    "lowercase": lambda r: r["prompt"].lower(),
    "json": lambda r: "```json\n" + json.dumps({"answer": r["prompt"]}) + "\n```",
    "kitchen_sink": _kitchen_sink,
}


@pytest.mark.parametrize("name", list(RESPONSE_SETS))
def test_all_prompts_match_the_reference_checker(tmp_path, ifeval_rows, reference, name):
    items = items_of(ifeval_rows, RESPONSE_SETS[name])
    run, out = score(tmp_path, items)
    assert run.rc == 0 and run.last["event"] == "result", run
    got, want = read_out(out), reference_rows(reference, items)
    assert len(got) == 541
    mismatched = [(g["id"], g, w) for g, w in zip(got, want) if g != w]
    assert not mismatched, mismatched[:3]

    res = run.last
    agg = reference.agg_inst_level_acc
    assert res["items"] == 541 and res["instructions"] == 834
    assert res["prompt_strict"] == pytest.approx(sum(w["prompt_strict"] for w in want) / 541)
    assert res["prompt_loose"] == pytest.approx(sum(w["prompt_loose"] for w in want) / 541)
    assert res["instruction_strict"] == pytest.approx(agg([w["instruction_strict"] for w in want]))
    assert res["instruction_loose"] == pytest.approx(agg([w["instruction_loose"] for w in want]))
    assert sum(v["n"] for v in res["per_instruction"].values()) == 834
    assert res["checker"] == "lm-eval 0.4.13"
    assert run.progress()[-1] == {"event": "progress", "stage": "scoring", "done": 541, "total": 541}
    print(f"{name}: " + ", ".join(f"{k} {res[k]:.4f}" for k in
                                  ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")))
    if name == "empty":  # the checker fails every instruction on an empty response
        assert res["prompt_strict"] == res["prompt_loose"] == res["instruction_strict"] == res["instruction_loose"] == 0


def _targeted(ifeval_rows, instruction_id: str, name: str, response: str) -> dict:
    """An item asking for one instruction only, with the kwargs IFEval gives it in its first prompt that has it."""
    row = next(r for r in ifeval_rows if instruction_id in r["instruction_id_list"])
    kwargs = row["kwargs"][row["instruction_id_list"].index(instruction_id)]
    return {"id": name, "prompt": row["prompt"], "instruction_id_list": [instruction_id], "kwargs": [kwargs],
            "response": response}


def test_crafted_responses_pass_and_fail_their_instruction(tmp_path, ifeval_rows, reference):
    bullets = next(r for r in ifeval_rows if "detectable_format:number_bullet_lists" in r["instruction_id_list"])
    n = bullets["kwargs"][bullets["instruction_id_list"].index("detectable_format:number_bullet_lists")]["num_bullets"]
    cases = [  # (instruction, response, followed?)
        ("change_case:english_lowercase", "this answer is written in lowercase english only.", True),
        ("change_case:english_lowercase", "This answer has One capital letter.", False),
        ("detectable_format:json_format", '```json\n{"answer": "yes", "count": 3}\n```', True),
        ("detectable_format:json_format", "answer: yes, count: 3", False),
        ("detectable_format:number_bullet_lists", "\n".join(f"* point {i}" for i in range(n)), True),
        ("detectable_format:number_bullet_lists", "\n".join(f"* point {i}" for i in range(n + 1)), False),
        ("detectable_format:title", "<<The Long Voyage>>\nIt was a long voyage.", True),
        ("detectable_format:title", "The Long Voyage\nIt was a long voyage.", False),
        ("punctuation:no_comma", "No commas appear in this answer at all.", True),
        ("punctuation:no_comma", "One comma, here.", False),
    ]
    items = [_targeted(ifeval_rows, iid, f"{iid}#{k}", text) for k, (iid, text, _) in enumerate(cases)]
    run, out = score(tmp_path, items)
    assert run.rc == 0, run
    got = read_out(out)
    for (iid, text, followed), row in zip(cases, got):
        assert row["instruction_strict"] == [followed], (iid, text, row)
        assert row["prompt_strict"] is followed
    assert got == reference_rows(reference, items)


def test_same_input_scores_the_same_in_any_order(tmp_path, ifeval_rows):
    items = items_of(ifeval_rows, RESPONSE_SETS["echo"])
    first, out1 = score(tmp_path, items, "first")
    second, out2 = score(tmp_path, items, "second")
    assert first.rc == second.rc == 0, (first, second)
    assert out1.read_bytes() == out2.read_bytes()
    assert {k: v for k, v in first.last.items() if k != "output"} == \
           {k: v for k, v in second.last.items() if k != "output"}

    shuffled = list(items)
    random.Random(7).shuffle(shuffled)
    third, out3 = score(tmp_path, shuffled, "shuffled")
    assert third.rc == 0, third
    by_id = {r["id"]: r for r in read_out(out1)}
    assert all(r == by_id[r["id"]] for r in read_out(out3))
    assert third.last["prompt_strict"] == first.last["prompt_strict"]


@pytest.mark.parametrize("present", ["nothing", "punkt_tab without english"])
def test_missing_punkt_tab_is_a_clear_error(tmp_path, ifeval_rows, present):
    """NLTK must never download: with punkt_tab off the path the job names what is missing and how to get it."""
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    if present != "nothing":
        (empty / "tokenizers" / "punkt_tab").mkdir(parents=True)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(items_of(ifeval_rows[:1], RESPONSE_SETS["echo"])[0]) + "\n")
    run = run_job("score-ifeval", {"input": str(src), "output": str(out)}, tmp_path / "s.json",
                  env={"ISHEEP_NLTK_DATA": str(empty)})
    assert run.rc == 2 and run.last["kind"] == "bad_input", run
    message = run.last["message"]
    assert "punkt_tab" in message and "tokenizers/punkt_tab/english/" in message, message
    assert "setup.mjs" in message and str(empty) in message, message
    assert "Downloading" not in run.stderr and "nltk_data]" not in run.stderr, run.stderr
    assert not out.exists()


def _item(**over) -> dict:
    item = {"id": "a", "prompt": "Write in lowercase.", "instruction_id_list": ["change_case:english_lowercase"],
            "kwargs": [{}], "response": "ok"}
    return {**item, **over}


@pytest.mark.parametrize("spec_over, rows, needles", [
    ({"sed": 1}, [_item()], ["sed", "unknown key"]),
    ({"seed": "1"}, [_item()], ["seed"]),
    ({"seed": True}, [_item()], ["seed"]),
    ({"output": "relative/out.jsonl"}, [_item()], ["output", "absolute"]),
    ({"input": None}, [_item()], ["input"]),
    ({}, [], ["no items"]),
    ({}, [_item(kwargs=[])], ["line 1", "kwargs"]),
    ({}, [_item(instruction_id_list=["change_case:nonsense"])], ["line 1", "change_case:nonsense"]),
    ({}, [_item(kwargs=[{"num_words": 3}])], ["line 1", "num_words"]),
    ({}, [_item(), _item()], ["line 2", "duplicate"]),
    ({}, [_item(response=None)], ["line 1", "response"]),
    ({}, [{k: v for k, v in _item().items() if k != "prompt"}], ["line 1", "prompt"]),
], ids=["unknown-key", "seed-string", "seed-bool", "relative-path", "input-null", "empty-input", "kwargs-count",
        "unknown-instruction", "wrong-kwargs", "duplicate-id", "response-null", "missing-prompt"])
def test_bad_spec_or_rows_are_bad_input(tmp_path, spec_over, rows, needles):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {"input": str(src), "output": str(out), **spec_over}
    run = run_job("score-ifeval", {k: v for k, v in spec.items() if v is not None}, tmp_path / "s.json")
    assert run.rc == 2 and len(run.events) == 1 and run.last["kind"] == "bad_input", run
    for needle in needles:
        assert needle in run.last["message"], run.last["message"]
    assert not out.exists()
