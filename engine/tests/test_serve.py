"""The resident engine (serve.py): generate jobs sent on stdin share one process and its loaded models, write what
a one-job process writes, and a failed job leaves the server working."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ENGINE, engine_env, run_job

FAKE_VLLM = Path(__file__).resolve().parent / "fake_vllm"
ROWS = [{"id": f"c{i}", "messages": [{"role": "user", "content": f"Name {i + 2} colors."}]} for i in range(3)]


def _spec(model_dir, tmp_path, name, **over):
    spec = {"model": model_dir, "input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / f"{name}.jsonl"),
            "sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 6, "seed": 5}, "batch_size": 2,
            "device": "cpu"}
    spec.update(over)
    (tmp_path / f"{name}.spec.json").write_text(json.dumps(spec))
    return str(tmp_path / f"{name}.spec.json")


class Server:
    def __init__(self, tmp_path, pythonpath=None, **env):
        (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
        self.proc = subprocess.Popen([sys.executable, "-m", "isheep_engine", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ENGINE),
                                     env=engine_env(pythonpath, **env))

    def send(self, line: str) -> list[dict]:
        """Sends one request line and reads the events up to its result or error."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        events = []
        while True:
            out = self.proc.stdout.readline()
            assert out, f"server ended: {self.proc.stderr.read()[-3000:]}"
            events.append(json.loads(out))
            if events[-1]["event"] in ("result", "error"):
                return events

    def job(self, job_id: str, spec: str, job: str = "generate") -> list[dict]:
        return self.send(json.dumps({"id": job_id, "job": job, "spec": spec}))

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


def test_jobs_share_the_loaded_model_and_write_what_a_one_job_process_writes(model_dir, tmp_path):
    server = Server(tmp_path)
    first = server.job("1", _spec(model_dir, tmp_path, "a"))
    assert first[0] == {"event": "progress", "stage": "loading", "job_id": "1"}
    assert first[-1]["event"] == "result" and all(e["job_id"] == "1" for e in first)
    second = server.job("2", _spec(model_dir, tmp_path, "b", sampling={"temperature": 0, "max_new_tokens": 6}))
    assert second[-1]["event"] == "result" and second[-1]["rows"] == len(ROWS)
    assert not any(e.get("stage") == "loading" for e in second)  # the model stayed loaded
    third = server.job("3", _spec(model_dir, tmp_path, "c"))
    assert third[-1]["event"] == "result"
    assert server.close() == 0

    alone = run_job("generate", json.loads(Path(_spec(model_dir, tmp_path, "d")).read_text()), tmp_path / "d.run.json")
    assert alone.rc == 0, alone
    assert (tmp_path / "c.jsonl").read_text() == (tmp_path / "d.jsonl").read_text()
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "c.jsonl").read_text()


def test_bad_requests_and_failed_jobs_are_answered_and_the_server_goes_on(model_dir, tmp_path):
    server = Server(tmp_path)
    bad = server.send("not json")
    assert bad[-1]["event"] == "error" and bad[-1]["kind"] == "bad_input" and "not JSON" in bad[-1]["message"]
    other = server.job("t", "/x.json", job="train")
    assert other[-1]["kind"] == "bad_input" and other[-1]["job_id"] == "t" and "not served here" in other[-1]["message"]
    missing = server.job("m", _spec(model_dir, tmp_path, "m", input=str(tmp_path / "missing.jsonl")))
    assert missing[-1]["event"] == "error" and missing[-1]["kind"] == "bad_input"
    assert "missing.jsonl" in missing[-1]["message"]
    wrong_model = server.job("w", _spec(model_dir, tmp_path, "w", model=str(tmp_path / "no-model")))
    assert wrong_model[-1]["kind"] == "model_load"
    ok = server.job("ok", _spec(model_dir, tmp_path, "ok"))
    assert ok[-1]["event"] == "result" and ok[-1]["job_id"] == "ok"
    assert server.close() == 0


def test_sigterm_ends_the_job_with_an_error_and_then_the_server(model_dir, tmp_path):
    server = Server(tmp_path)
    spec = _spec(model_dir, tmp_path, "slow", sampling={"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 400, "seed": 1})
    server.proc.stdin.write(json.dumps({"id": "s", "job": "generate", "spec": spec}) + "\n")
    server.proc.stdin.flush()
    while True:  # until it generates
        event = json.loads(server.proc.stdout.readline())
        if event.get("stage") == "generating":
            break
    time.sleep(1)
    server.proc.send_signal(signal.SIGTERM)
    rest = [json.loads(line) for line in server.proc.stdout.read().splitlines()]
    assert rest[-1]["event"] == "error" and "SIGTERM" in rest[-1]["message"] and rest[-1]["job_id"] == "s"
    assert server.proc.wait(timeout=30) == 1
    assert not os.path.exists(str(tmp_path / "slow.jsonl"))


def test_a_vllm_engine_is_built_once_for_jobs_on_the_same_model(model_dir, tmp_path):
    log = tmp_path / "vllm-log.jsonl"
    server = Server(tmp_path, pythonpath=[FAKE_VLLM], FAKE_VLLM_LOG=str(log), CUDA_VISIBLE_DEVICES="0")
    for name in ("a", "b"):
        events = server.job(name, _spec(model_dir, tmp_path, name, backend="vllm", device="cuda"))
        assert events[-1]["event"] == "result", events
    assert server.close() == 0
    built = [json.loads(line) for line in log.read_text().splitlines() if '"llm"' in line]
    assert len(built) == 1
