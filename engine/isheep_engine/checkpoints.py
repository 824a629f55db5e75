"""train's checkpoints (WORK_DIR/checkpoints/checkpoint-STEP, written by Trainer) and what a re-run resumes from:
the newest complete checkpoint of the same fingerprint (WORK_DIR/isheep-train-spec.json records it); incomplete
ones, and all of another fingerprint, are removed. When a checkpoint marks the end of training, its best
checkpoint holds the result's weights (train.py's docstring has the rules)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

SPEC_COPY = "isheep-train-spec.json"  # in work_dir: {"fingerprint", "spec"} of the run the checkpoints belong to


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _checkpoint_complete(path: str, step: int) -> bool:
    """Trainer writes a checkpoint's files in place, trainer_state.json last: a checkpoint cut short by a kill
    lacks it (or holds a torn one); one cut short while being rotated away lacks other files."""
    state = read_json(os.path.join(path, "trainer_state.json"))
    if not state or state.get("global_step") != step:
        return False
    names = set(os.listdir(path))
    weights = {"adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json"}
    return bool(names & weights) and {"optimizer.pt", "scheduler.pt"} <= names


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest complete checkpoint-N under ckpt_dir; incomplete ones are removed."""
    if not os.path.isdir(ckpt_dir):
        return None
    found = []
    for name in os.listdir(ckpt_dir):
        path = os.path.join(ckpt_dir, name)
        head, _, num = name.partition("-")
        if head != "checkpoint" or not num.isdigit() or not os.path.isdir(path):
            continue
        if _checkpoint_complete(path, int(num)):
            found.append((int(num), path))
        else:
            print(f"train: removing incomplete checkpoint {path}", file=sys.stderr)
            shutil.rmtree(path, ignore_errors=True)
    return max(found)[1] if found else None


def resume_checkpoint(ckpt_dir: str, work_dir: str, fingerprint: str) -> str | None:
    """The last checkpoint of an earlier run of the same fingerprint; checkpoints of another are removed."""
    saved = read_json(os.path.join(work_dir, SPEC_COPY))
    if saved is None or saved.get("fingerprint") != fingerprint:
        if os.path.isdir(ckpt_dir):
            print(f"train: removing checkpoints of a different spec, data file or base model in {ckpt_dir}",
                  file=sys.stderr)
            shutil.rmtree(ckpt_dir)
        return None
    return last_complete_checkpoint(ckpt_dir)


def finished_state(checkpoint: str) -> dict[str, Any] | None:
    """The checkpoint's trainer state when it marks the end of training (global_step reached max_steps)."""
    state = read_json(os.path.join(checkpoint, "trainer_state.json"))
    if state and state.get("max_steps") and int(state.get("global_step", 0)) >= int(state["max_steps"]):
        return state
    return None


def best_checkpoint(state: dict[str, Any], last: str, ckpt_dir: str) -> str:
    best = state.get("best_model_checkpoint")
    if best:
        best = os.path.join(ckpt_dir, os.path.basename(best))  # work_dir may have moved
        if os.path.isdir(best):
            return best
    return last
