"""score-ifeval: score IFEval responses with the reference checker (lm-eval 0.4.13's lm_eval/tasks/ifeval).

    python -m isheep_engine score-ifeval --spec spec.json

spec: {"input": FILE.jsonl, "output": FILE.jsonl, "seed": INT (0)}

input rows: {"id": STR or INT, "prompt": STR, "instruction_id_list": [STR], "kwargs": [OBJECT], "response": STR}
(IFEval's input_data.jsonl with "key" renamed "id" and the model's "response" added; other keys are ignored)

Each row is scored by lm-eval's own process_results (the checker is lm-eval's code, imported without running
lm_eval's package __init__ chain, which would pull datasets, torch and more): strict = the response as given,
loose = also the response without its first and/or last line and/or without "*". Output, written atomically
in input order, one row per item:
    {"id", "instruction_id_list", "prompt_strict": bool, "prompt_loose": bool,
     "instruction_strict": [bool], "instruction_loose": [bool]}

Deterministic: a few checkers pick a random value when a kwarg is missing or falsy (e.g. the letter of
letter_frequency when it is "#"), and language detection is random, so `random` is seeded with the seed before
every item and langdetect's factory with the seed once: an item's verdict depends on its row and the seed
only, not on the other rows or their order.

NLTK data: the checker tokenizes with NLTK's punkt_tab and calls nltk.download at import when it is missing.
The engine never downloads: it looks for tokenizers/punkt_tab/english/ on nltk's path (setup puts it in
<venv>/nltk_data; NLTK_DATA adds folders; ISHEEP_NLTK_DATA, an os.pathsep list, replaces the whole path) and
fails with bad_input naming the missing data when it is not there (retrying would not help).

events:  {"event": "progress", "stage": "scoring", "done": N, "total": N}
result:  {"event": "result", "items": N, "instructions": N,
          "prompt_strict": F, "prompt_loose": F, "instruction_strict": F, "instruction_loose": F,
          "per_instruction": {ID: {"n": N, "strict": F, "loose": F}}, "checker": "lm-eval 0.4.13", "output": FILE}
prompt-level accuracy: the share of items whose every instruction is followed; instruction-level: the share of
all instructions followed (IFEval's four figures, as lm-eval aggregates them).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import random
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from . import protocol
from .spec import AbsolutePath, SpecModel, read_spec, validate
from .files import read_jsonl, write_jsonl_atomic
from .protocol import BadInput

NLTK_DATA_ENV = "ISHEEP_NLTK_DATA"
PUNKT_TAB = "tokenizers/punkt_tab/english/"
PROGRESS_EVERY = 100  # items


class ScoreIfevalSpec(SpecModel):
    input: AbsolutePath
    output: AbsolutePath
    seed: int = 0


class Item(SpecModel):
    model_config = ConfigDict(extra="ignore")  # a row may carry IFEval's "key" and more
    id: Union[StrictStr, StrictInt]
    prompt: str
    instruction_id_list: list[str] = Field(min_length=1)
    kwargs: list[dict[str, Any]]
    response: str


@dataclass
class Checker:
    """lm-eval's ifeval modules, loaded."""

    utils: types.ModuleType
    registry: dict[str, type]
    version: str


# --- loading the checker, never downloading -------------------------------------------------------------------


def _refuse_download(*args: Any, **kwargs: Any) -> bool:
    raise BadInput(f"refusing nltk.download{args!r}: the engine never downloads NLTK data; "
                   "run `node scripts/setup.mjs`, which installs what the IFEval checker needs")


def ensure_nltk_data() -> None:
    """Put nltk on the path the environment asks for, disarm nltk.download, and check punkt_tab is there."""
    import nltk

    nltk.download = _refuse_download  # instructions_util calls it at import when punkt_tab is missing
    override = os.environ.get(NLTK_DATA_ENV)
    if override:
        nltk.data.path[:] = [p for p in override.split(os.pathsep) if p]
    try:
        nltk.data.find("tokenizers/punkt_tab")  # what instructions_util checks at import
        nltk.data.find(PUNKT_TAB)  # what sent_tokenize / word_tokenize load
    except LookupError:
        searched = f"{NLTK_DATA_ENV}={override}" if override else ", ".join(nltk.data.path)
        raise BadInput(
            f"NLTK's punkt_tab tokenizer data ({PUNKT_TAB}) is not installed; the IFEval checker needs it. "
            f"Searched: {searched}. Install it with `node scripts/setup.mjs` (it puts it in "
            f"{os.path.join(sys.prefix, 'nltk_data')}), or point {NLTK_DATA_ENV} or NLTK_DATA at a folder holding "
            f"{PUNKT_TAB} (nltk.download('punkt_tab', download_dir=FOLDER) where the internet is reachable)"
        ) from None


def _stub_package(name: str, folder: Path) -> None:
    """An empty package module for ``name`` whose submodules are found in ``folder`` (its __init__ is not run)."""
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [str(folder)]
        sys.modules[name] = module


def load_checker() -> Checker:
    """Import lm_eval.tasks.ifeval's modules without lm_eval/__init__ and lm_eval/tasks/__init__ (the latter
    imports lm-eval's task manager and with it datasets, evaluate, torch...): stub the parent packages, as
    lm_eval/tasks/ifeval has no __init__ of its own."""
    spec = importlib.util.find_spec("lm_eval")  # locates the package without executing it
    if spec is None or not spec.origin:
        raise BadInput("lm-eval is not installed in the engine's environment (engine/requirements.lock pins it); "
                       "run `node scripts/setup.mjs`")
    root = Path(spec.origin).parent
    _stub_package("lm_eval", root)
    _stub_package("lm_eval.tasks", root / "tasks")
    _stub_package("lm_eval.tasks.ifeval", root / "tasks" / "ifeval")
    ensure_nltk_data()
    from lm_eval.tasks.ifeval import instructions_registry, utils

    return Checker(utils=utils, registry=dict(instructions_registry.INSTRUCTION_DICT),
                   version=importlib.metadata.version("lm_eval"))


def seed_detectors(seed: int) -> None:
    import langdetect

    langdetect.DetectorFactory.seed = seed  # each Detector seeds its own Random with this


# --- reading and checking the items -------------------------------------------------------------------------


def read_items(path: str) -> list[tuple[int, Item]]:
    items: list[tuple[int, Item]] = []
    seen: dict[Any, int] = {}
    for lineno, row in read_jsonl(path):
        item = validate(Item, row, f"{path} line {lineno}")
        if len(item.kwargs) != len(item.instruction_id_list):
            raise BadInput(f"{path} line {lineno}: {len(item.instruction_id_list)} instructions but "
                           f"{len(item.kwargs)} kwargs objects; expected one per instruction")
        if item.id in seen:
            raise BadInput(f"{path} line {lineno}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append((lineno, item))
    if not items:
        raise BadInput(f"{path} holds no items")
    return items


def check_instructions(checker: Checker, path: str, lineno: int, item: Item) -> None:
    """Unknown instruction ids and kwargs the instruction does not take are the input's fault: say so up front,
    so that an exception while scoring is the checker's."""
    for instruction_id, kwargs in zip(item.instruction_id_list, item.kwargs):
        cls = checker.registry.get(instruction_id)
        if cls is None:
            raise BadInput(f"{path} line {lineno}: unknown instruction id {instruction_id!r}")
        try:
            cls(instruction_id).build_description(**{k: v for k, v in kwargs.items() if v})
        except TypeError as exc:
            raise BadInput(f"{path} line {lineno}: kwargs {kwargs} do not fit {instruction_id}: {exc}") from None


# --- scoring ---------------------------------------------------------------------------------------------------


def score_item(checker: Checker, item: Item, seed: int) -> dict[str, Any]:
    doc = {"key": item.id, "prompt": item.prompt, "instruction_id_list": item.instruction_id_list,
           "kwargs": item.kwargs}
    random.seed(seed)  # per item: the verdict must not depend on the rows before it
    verdict = checker.utils.process_results(doc, [item.response])
    return {
        "id": item.id,
        "instruction_id_list": item.instruction_id_list,
        "prompt_strict": bool(verdict["prompt_level_strict_acc"]),
        "prompt_loose": bool(verdict["prompt_level_loose_acc"]),
        "instruction_strict": [bool(v) for v in verdict["inst_level_strict_acc"]],
        "instruction_loose": [bool(v) for v in verdict["inst_level_loose_acc"]],
    }


def summarize(checker: Checker, rows: list[dict[str, Any]]) -> dict[str, Any]:
    agg = checker.utils.agg_inst_level_acc  # lm-eval's own aggregation of the instruction level
    per: dict[str, dict[str, int]] = {}
    for row in rows:
        for instruction_id, strict, loose in zip(row["instruction_id_list"], row["instruction_strict"],
                                                 row["instruction_loose"]):
            counts = per.setdefault(instruction_id, {"n": 0, "strict": 0, "loose": 0})
            counts["n"] += 1
            counts["strict"] += strict
            counts["loose"] += loose
    return {
        "items": len(rows),
        "instructions": sum(len(r["instruction_id_list"]) for r in rows),
        "prompt_strict": sum(r["prompt_strict"] for r in rows) / len(rows),
        "prompt_loose": sum(r["prompt_loose"] for r in rows) / len(rows),
        "instruction_strict": agg([r["instruction_strict"] for r in rows]),
        "instruction_loose": agg([r["instruction_loose"] for r in rows]),
        "per_instruction": {k: {"n": c["n"], "strict": c["strict"] / c["n"], "loose": c["loose"] / c["n"]}
                            for k, c in sorted(per.items())},
    }


def run(spec: ScoreIfevalSpec) -> dict[str, Any]:
    items = read_items(spec.input)
    checker = load_checker()
    for lineno, item in items:
        check_instructions(checker, spec.input, lineno, item)
    seed_detectors(spec.seed)
    rows, last_report = [], time.monotonic()
    for done, (_, item) in enumerate(items, 1):
        rows.append(score_item(checker, item, spec.seed))
        if done % PROGRESS_EVERY == 0 or done == len(items) or time.monotonic() - last_report > 5:
            protocol.progress(stage="scoring", done=done, total=len(items))
            last_report = time.monotonic()
    write_jsonl_atomic(spec.output, rows)
    return {**summarize(checker, rows), "checker": f"lm-eval {checker.version}", "output": spec.output}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        protocol.result(**run(read_spec(args.spec, ScoreIfevalSpec)))

    return protocol.run_job(job, protocol.job_parser("isheep_engine score-ifeval", __doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
