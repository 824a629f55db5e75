"""serve: a resident engine, one per model slot: jobs come one at a time on stdin, and the models they load stay
loaded for the next ones (resident.py), so only a slot's first job on a model pays for importing torch and loading.

    python -m isheep_engine serve

stdin: one JSON line per job, {"id": STR, "job": "generate", "spec": PATH}; the next line is read when the job has
  ended. End of stdin ends the server (exit 0).
stdout: each job's events exactly as the one-job process (`python -m isheep_engine generate --spec PATH`) writes
  them (protocol.py), each with "job_id": ID; the job has ended at its result or error event.
Jobs taken: generate. The others (train, import-model, lm-eval, scoring) run as processes of their own: they load
  a model once, or none, and a train job's memory is best given back by ending its process.
Failures: a job's failure is its error event and the server goes on (a model that did not load, bad input, an
  endpoint that refused), except that after out_of_memory every model is dropped first. SIGTERM ends the job it is
  in with an error event, then the server. Everything else is as for any job: it dies with its parent (the worker),
  and the caller kills it, process group and all, to cancel a job.
A bad line on stdin is answered with a bad_input error event (with the line's "id" where it has one).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

from . import protocol, resident
from .protocol import BadInput


def _generate(path: str) -> dict[str, Any]:
    from .generate import run_spec_file

    return run_spec_file(path)


JOBS: dict[str, Callable[[str], dict[str, Any]]] = {"generate": _generate}


def _request(line: str) -> tuple[str | None, str, str]:
    try:
        req = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadInput(f"serve: a request line is not JSON ({exc.msg}): {line[:200]!r}") from exc
    if not isinstance(req, dict):
        raise BadInput(f"serve: a request must be a JSON object, got {line[:200]!r}")
    job_id = req.get("id")
    job_id = str(job_id) if isinstance(job_id, (str, int)) else None
    protocol.set_job(job_id)
    job, spec = req.get("job"), req.get("spec")
    if job_id is None:
        raise BadInput('serve: a request needs "id" (a string)')
    if job not in JOBS:
        raise BadInput(f"serve: job {job!r} is not served here (only {', '.join(JOBS)}); run it as a process of its own")
    if not isinstance(spec, str) or not spec:
        raise BadInput('serve: a request needs "spec", the path of the job\'s spec file')
    return job_id, job, spec


def main(argv: list[str] | None = None) -> int:
    protocol.start_process()
    if argv:
        protocol.emit("error", kind=protocol.BAD_INPUT, message=f"serve takes no arguments, got {' '.join(argv)}")
        return 2
    while True:
        protocol.set_job(None)
        try:
            line = sys.stdin.readline()
        except protocol.Terminated:
            return 1
        if not line:
            return 0  # the caller closed stdin
        if not line.strip():
            continue

        def work() -> None:
            _, job, spec = _request(line)
            protocol.result(**JOBS[job](spec))

        _, kind = protocol.guarded(work)
        if kind == protocol.OUT_OF_MEMORY:
            resident.clear()
        if protocol.terminating:
            return 1


if __name__ == "__main__":
    sys.exit(main())
