"""The wire protocol between the engine and its TypeScript callers.

stdout carries only JSON lines, one object each, flushed at once:

    {"event": "progress", ...}                 zero or more times
    {"event": "result", ...}                   once, on success (exit 0)
    {"event": "error", "kind": KIND, "message": "..."}   on failure

KIND is one of ``bad_input`` (exit 2), ``model_load``, ``out_of_memory`` or ``crashed`` (exit 1).

Everything else (library warnings, logs, stray prints, even C code writing to file descriptor 1) goes to
stderr: ``claim_stdout()`` keeps a private duplicate of the real stdout for events and points both
``sys.stdout`` and file descriptor 1 at stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import traceback
from typing import Any, Callable, NoReturn

BAD_INPUT = "bad_input"
MODEL_LOAD = "model_load"
OUT_OF_MEMORY = "out_of_memory"
CRASHED = "crashed"
KINDS = (BAD_INPUT, MODEL_LOAD, OUT_OF_MEMORY, CRASHED)


class EngineError(Exception):
    """A failure with a known kind; its message is shown to the caller as is."""

    kind = CRASHED

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"unknown error kind {kind!r}")
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self)


class BadInput(EngineError):
    kind = BAD_INPUT


class ModelLoadError(EngineError):
    kind = MODEL_LOAD


_events = None  # the private handle on the real stdout


def claim_stdout() -> None:
    """Keep the real stdout for events only; send everything else written to stdout to stderr."""
    global _events
    if _events is not None:
        return
    sys.stdout.flush()
    real_fd = os.dup(1)
    _events = os.fdopen(real_fd, "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # C libraries and subprocesses writing to fd 1 land in stderr
    sys.stdout = sys.stderr


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: send them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit(event: str, **fields: Any) -> None:
    line = json.dumps(_clean({"event": event, **fields}), ensure_ascii=False, allow_nan=False)
    out = _events if _events is not None else sys.stdout
    out.write(line + "\n")
    out.flush()


def progress(**fields: Any) -> None:
    emit("progress", **fields)


def result(**fields: Any) -> None:
    emit("result", **fields)


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an exception to (kind, message)."""
    if isinstance(exc, EngineError):
        return exc.kind, exc.message
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY, text
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return OUT_OF_MEMORY, text
    except Exception:  # torch missing or too old to have OutOfMemoryError
        pass
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return OUT_OF_MEMORY, text
    return CRASHED, text


def exit_code(kind: str) -> int:
    return 2 if kind == BAD_INPUT else 1


class Terminated(EngineError):
    """Raised in the main thread when the process gets SIGTERM, so cleanup runs and an error event goes out."""


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise Terminated("terminated by SIGTERM")


def run_job(job: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse arguments, run the job, turn any failure into an error event; returns the exit code."""
    claim_stdout()
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass
    try:
        args = parser.parse_args(argv)
        job(args)
        return 0
    except KeyboardInterrupt:
        emit("error", kind=CRASHED, message="KeyboardInterrupt: interrupted")
        return 1
    except BaseException as exc:  # noqa: BLE001 - every failure must become an event
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            return 0  # --help
        kind, message = classify(exc)
        if kind == CRASHED or not isinstance(exc, EngineError):
            traceback.print_exc(file=sys.stderr)
        emit("error", kind=kind, message=message)
        return exit_code(kind)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors become bad_input events instead of exit(2) with text."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise BadInput(f"{self.prog}: {message}")


def job_parser(prog: str, description: str | None) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, help="path of the job's JSON spec")
    return parser
