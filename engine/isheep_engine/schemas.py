"""The JSON Schema of each job's spec, committed in engine/schemas/<job>.schema.json for the callers (the
TypeScript side checks the specs it builds against them: test/engine-spec.test.ts). Made from the pydantic
models (model_json_schema); tests/test_schemas.py fails when a committed file is stale. Regenerate them with

    cd engine && PYTHONPATH=. python -m isheep_engine.schemas

The schemas say the shape, the types, the ranges and the defaults; the few checks that pydantic runs in Python
(an absolute path, an http(s) URL with a host, a non-blank string) appear as patterns, and the rules between keys
(which backend needs "model" or "endpoint") are the job's own (generate.check_backend).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import generate, humaneval_problems, import_model, run_humaneval, run_lm_eval, score_ifeval, train
from .spec import SpecModel

SPECS: dict[str, type[SpecModel]] = {
    "import-model": import_model.ImportModelSpec,
    "generate": generate.GenerateSpec,
    "train": train.TrainSpec,
    "score-ifeval": score_ifeval.ScoreIfevalSpec,
    "run-humaneval": run_humaneval.RunHumanevalSpec,
    "run-lm-eval": run_lm_eval.RunLmEvalSpec,
    "humaneval-problems": humaneval_problems.HumanevalProblemsSpec,
}
FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas")


def schema(job: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"isheep-engine/{job}.schema.json",
            **SPECS[job].model_json_schema()}


def path(job: str) -> str:
    return os.path.join(FOLDER, f"{job}.schema.json")


def text(job: str) -> str:
    return json.dumps(schema(job), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    os.makedirs(FOLDER, exist_ok=True)
    for job in SPECS:
        with open(path(job), "w", encoding="utf-8") as fh:
            fh.write(text(job))
        print(f"wrote {path(job)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
