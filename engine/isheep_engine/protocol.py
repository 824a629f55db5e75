"""The wire protocol between the engine and its TypeScript callers.

stdout carries only JSON lines, one object each, flushed at once:

    {"event": "progress", ...}                 zero or more times
    {"event": "result", ...}                   once, on success (exit 0)
    {"event": "error", "kind": KIND, "message": "..."}   on failure

KIND is one of ``bad_input`` (exit 2), ``model_load``, ``out_of_memory`` or ``crashed`` (exit 1).

Everything else (library warnings, logs, stray prints, even C code writing to file descriptor 1) goes to
stderr: ``claim_stdout()`` keeps a private duplicate of the real stdout for events and points both
``sys.stdout`` and file descriptor 1 at stderr.

Parent-death watchdog: a job dies with the process that started it. The worker starts each job in a process
group of its own (so that cancelling kills the job's children too), which also means a worker killed with
SIGKILL does not take its jobs along; an orphaned job would go on writing OUTPUT.partial or checkpoints while
the retried job works on the same files. So every job notes its parent at start and kills itself (SIGKILL to
its process group when it leads one, else to itself: no cleanup, nothing half written beyond what a crash
leaves, which the resume logic already handles) as soon as that parent is gone:
  - on Linux, prctl(PR_SET_PDEATHSIG, SIGKILL) has the kernel do it at once (note: "parent" is the thread
    that spawned the job; Node spawns from its main thread);
  - everywhere, a daemon thread checks every 0.5 s whether os.getppid() changed (the job was re-parented);
    ISHEEP_ENGINE_WATCHDOG_POLL_ONLY=1 leaves the kernel signal out (for testing this fallback).
Running a job by hand that should outlive its shell (nohup, setsid, disown)? Set ISHEEP_ENGINE_NO_WATCHDOG=1.

Under torchrun (several processes, one per GPU: TORCHELASTIC_RUN_ID is set) the job's processes are the ranks,
children of the torchrun agent that the worker started; each rank is in a session of its own. Only rank 0
(RANK) writes events to stdout: the other ranks' result and error events go to stderr as log lines, their
progress nowhere. Each rank dies with the agent (the kernel signal and the poll above), and also watches the
agent's parent: when the agent is re-parented (the worker is gone, and torchrun does not die with it) the rank
SIGKILLs the agent (its process group when it leads one) and then itself, so the whole job goes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
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


def rank() -> int:
    """This process's rank under torchrun (RANK), 0 when run alone (a RANK set by anything else is ignored)."""
    if not os.environ.get("TORCHELASTIC_RUN_ID"):
        return 0
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def under_torchrun() -> bool:
    return bool(os.environ.get("TORCHELASTIC_RUN_ID")) and "RANK" in os.environ


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


_job_id: str | None = None  # in a resident engine (serve.py): the job the events are about


def set_job(job_id: str | None) -> None:
    global _job_id
    _job_id = job_id


def emit(event: str, **fields: Any) -> None:
    if _job_id is not None:
        fields = {**fields, "job_id": _job_id}
    line = json.dumps(_clean({"event": event, **fields}), ensure_ascii=False, allow_nan=False)
    if rank() != 0:  # one voice per job: rank 0's (see the module docstring)
        if event != "progress":
            print(f"rank {rank()} event: {line}", file=sys.stderr, flush=True)
        return
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


terminating = False  # set by SIGTERM: a resident engine (serve.py) ends after the job it was in


def _on_sigterm(signum, frame):  # noqa: ARG001
    global terminating
    terminating = True
    raise Terminated("terminated by SIGTERM")


WATCHDOG_ENV = "ISHEEP_ENGINE_NO_WATCHDOG"
POLL_ONLY_ENV = "ISHEEP_ENGINE_WATCHDOG_POLL_ONLY"
WATCHDOG_INTERVAL_S = 0.5
PR_SET_PDEATHSIG = 1
_watchdog_started = False


def _die() -> NoReturn:
    """Kill this job at once: its process group when it leads one (children included), else itself."""
    try:
        os.write(2, b"isheep engine: the parent process is gone; killing this job\n")
    except OSError:  # stderr's reader may be gone with the parent
        pass
    try:
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(137)


def _set_pdeathsig() -> bool:
    """Linux: ask the kernel to SIGKILL us when the parent dies. False where not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (Linux /proc), None when unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        return int(data[data.rindex(b")") + 2:].split()[1])  # fields after "(comm)": state, ppid, ...
    except (OSError, ValueError, IndexError):
        return None


def _kill_agent(agent: int) -> NoReturn:
    """The torchrun agent lost its parent: kill it (and its process group when it leads one), then this rank."""
    try:
        os.write(2, b"isheep engine: the torchrun agent's parent is gone; killing the job\n")
    except OSError:
        pass
    try:
        if os.getpgid(agent) == agent:
            os.killpg(agent, signal.SIGKILL)
        else:
            os.kill(agent, signal.SIGKILL)
    except OSError:
        pass
    _die()


def start_watchdog(interval: float = WATCHDOG_INTERVAL_S) -> bool:
    """Make this process die with its parent (see the module docstring); False when switched off."""
    global _watchdog_started
    if os.environ.get(WATCHDOG_ENV, "") not in ("", "0"):
        return False
    if _watchdog_started:
        return True
    _watchdog_started = True
    parent = os.getppid()
    if os.environ.get(POLL_ONLY_ENV) != "1":
        _set_pdeathsig()
        if os.getppid() != parent:  # the parent died before the kernel signal was armed
            _die()

    # Under torchrun the parent is the agent; the worker that started the job is the agent's parent.
    grandparent = parent_of(parent) if under_torchrun() else None

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                _die()
            if grandparent is not None and parent_of(parent) not in (grandparent, None):
                _kill_agent(parent)

    threading.Thread(target=watch, name="isheep-parent-watchdog", daemon=True).start()
    return True


def start_process() -> None:
    """What every engine process does first: die with its parent, keep stdout for events, SIGTERM as an error."""
    start_watchdog()
    claim_stdout()
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass


def guarded(work: Callable[[], None]) -> tuple[int, str | None]:
    """Run ``work``, turning any failure into an error event: (exit code, error kind or None)."""
    try:
        work()
        return 0, None
    except KeyboardInterrupt:
        emit("error", kind=CRASHED, message="KeyboardInterrupt: interrupted")
        return 1, CRASHED
    except BaseException as exc:  # noqa: BLE001 - every failure must become an event
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            return 0, None  # --help
        kind, message = classify(exc)
        if kind == CRASHED or not isinstance(exc, EngineError):
            traceback.print_exc(file=sys.stderr)
        emit("error", kind=kind, message=message)
        return exit_code(kind), kind


def run_job(job: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse arguments, run the job, turn any failure into an error event; returns the exit code."""
    start_process()
    return guarded(lambda: job(parser.parse_args(argv)))[0]


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors become bad_input events instead of exit(2) with text."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise BadInput(f"{self.prog}: {message}")


def job_parser(prog: str, description: str | None) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, help="path of the job's JSON spec")
    return parser
