"""Models kept loaded between jobs: in a resident engine (serve.py) the second and later generate jobs on the same
model skip importing and loading it.

A model is found again by what it was loaded from and how: its folder's path and identity (identity.model_identity:
a folder rewritten in place, by a train job or by hand, is another model), the device and the dtype, and for vLLM
its engine settings. A one-job process (`python -m isheep_engine generate`) goes through the same cache; it just
never asks twice.

How many stay loaded: ISHEEP_ENGINE_RESIDENT_MODELS (default: 2 on CPU, so that a run's current model and its
judge, the base model, are both kept; 1 where a CUDA model is among them, since two 7B models or two vLLM engines do
not share one GPU's memory). Beyond that the least recently used is dropped before the next one loads, so memory
never holds more than the limit plus nothing.
"""

from __future__ import annotations

import gc
import os
from collections import OrderedDict
from typing import Any, Callable, Hashable

from .identity import model_identity

LIMIT_ENV = "ISHEEP_ENGINE_RESIDENT_MODELS"

_loaded: OrderedDict[Hashable, Any] = OrderedDict()


def limit(devices: list[str]) -> int:
    """How many models may stay loaded, when the models concerned are on ``devices``."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass  # a bad value is no reason to fail a job: the default applies
    return 1 if "cuda" in devices else 2


def key_of(kind: str, model_dir: str, device: str, **settings: Any) -> tuple:
    """What a loaded model is found by (see the module docstring)."""
    return (kind, os.path.realpath(model_dir), model_identity(model_dir), device, tuple(sorted(settings.items())))


def get(key: tuple, load: Callable[[], Any]) -> Any:
    """The model loaded for ``key``, else ``load()``'s after dropping what exceeds the limit."""
    if key in _loaded:
        _loaded.move_to_end(key)
        return _loaded[key]
    devices = [k[3] for k in _loaded] + [key[3]]
    while _loaded and len(_loaded) >= limit(devices):
        _loaded.popitem(last=False)
        release_memory()
    value = load()
    _loaded[key] = value
    return value


def clear() -> None:
    """Drop every loaded model (after an out-of-memory error, so the next job starts from nothing)."""
    _loaded.clear()
    release_memory()


def release_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - no torch, or no CUDA: nothing to give back
        pass
