"""Dispatch to one job:

    python -m isheep_engine import-model --spec spec.json
    python -m isheep_engine generate --spec spec.json
    python -m isheep_engine train --spec spec.json
    python -m isheep_engine score-ifeval --spec spec.json
    python -m isheep_engine run-humaneval --spec spec.json
    python -m isheep_engine run-lm-eval --spec spec.json
    python -m isheep_engine humaneval-problems --spec spec.json
    python -m isheep_engine serve        (a resident engine: generate jobs sent on stdin, see serve.py)

stdout carries only JSON event lines (see protocol.py); logs go to stderr.
"""

from __future__ import annotations

import importlib
import sys

from . import protocol

JOBS = {"import-model": "import_model", "generate": "generate", "train": "train",
        "score-ifeval": "score_ifeval", "run-humaneval": "run_humaneval",
        "humaneval-problems": "humaneval_problems", "run-lm-eval": "run_lm_eval",
        "serve": "serve"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in JOBS:
        protocol.claim_stdout()
        if argv and argv[0] in ("-h", "--help"):
            print(__doc__, file=sys.stderr)
            return 0
        got = repr(argv[0]) if argv else "nothing"
        protocol.emit("error", kind=protocol.BAD_INPUT,
                      message=f"unknown job {got}; expected one of {', '.join(JOBS)}")
        return 2
    module = importlib.import_module(f".{JOBS[argv[0]]}", __package__)
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
