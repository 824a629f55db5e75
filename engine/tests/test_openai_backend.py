"""The generate job's "openai" backend against a local stub of an OpenAI-compatible server (no network).

The stub answers /v1/chat/completions and /v1/completions deterministically by echoing the last message or the
prompt; markers in that text script failures: FAIL500 (one 500, then success), FAIL429 (one 429 with
Retry-After: 0), ALWAYS503, BAD400, SLOW (answers after 0.3 s), HANG (after 20 s), LONG (finish_reason "length").
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_job, write_partial
from isheep_engine.openai_backend import retry_after, row_seed, server_message

KEY_ENV = "ISHEEP_TEST_OPENAI_KEY"


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # {"path", "headers", "body"}
        self.failed: set[str] = set()  # markers that have failed once already
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, obj: dict, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with srv.lock:
            srv.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._answer(srv, body)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _answer(self, srv: Stub, body: dict) -> None:
        if self.path == "/v1/chat/completions":
            source = body["messages"][-1]["content"]
        elif self.path == "/v1/completions":
            source = body["prompt"]
        else:
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        time.sleep(srv.delay + (0.3 if "SLOW" in source else 0.0) + (20.0 if "HANG" in source else 0.0))
        if "BAD400" in source:
            return self._send(400, {"error": {"message": "This model's maximum context length is 8 tokens",
                                              "type": "invalid_request_error"}})
        if "ALWAYS503" in source:
            return self._send(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})
        for marker, status, headers in (("FAIL500", 500, {}), ("FAIL429", 429, {"Retry-After": "0"})):
            if marker in source:
                with srv.lock:
                    first = marker + source not in srv.failed
                    srv.failed.add(marker + source)
                if first:
                    return self._send(status, {"error": {"message": f"scripted {status}"}}, headers)
        text = "echo: " + source
        finish = "length" if "LONG" in source else "stop"
        usage = {"prompt_tokens": len(source.split()), "completion_tokens": len(text.split())}
        if self.path == "/v1/chat/completions":
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            if body.get("logprobs"):  # OpenAI's chat shape
                tops = [{"token": t, "logprob": v, "bytes": None} for t, v in (("M", -0.2), ("m", -1.9), ("The", -3.0))]
                choice["logprobs"] = {"content": [{"token": "M", "logprob": -0.2, "top_logprobs": tops[:body["top_logprobs"]]}]}
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish}
            if body.get("logprobs"):  # the legacy completions shape
                choice["logprobs"] = {"tokens": ["echo"], "top_logprobs": [{"echo": -0.1, "Echo": -2.5}]}
        self._send(200, {"id": "x", "object": "completion", "model": body["model"], "choices": [choice],
                         "usage": usage})


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    srv = Stub()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


ROWS = [
    {"id": "c1", "messages": [{"role": "user", "content": "SLOW hello there"}]},
    {"id": "p1", "prompt": "Once upon a time"},
    {"id": "c2", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "LONG hi"}]},
    {"id": "p2", "prompt": "SLOW The end"},
]


def _write(tmp_path, rows):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _spec(stub, tmp_path, endpoint=None, **over):
    spec = {"backend": "openai", "input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out" / "gen.jsonl"),
            "sampling": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64, "seed": 42},
            "system_prompt": "You are a helpful assistant.",
            "endpoint": {"base_url": stub.base_url if stub else "http://127.0.0.1:9/v1", "model": "judge-7b",
                         "api_key_env": KEY_ENV, **(endpoint or {})}}
    spec.update(over)
    return spec


def _read(path):
    return [json.loads(line) for line in open(path)]


def _bad(run, *needles):
    assert run.rc == 2, run
    assert run.last["event"] == "error" and run.last["kind"] == "bad_input", run
    for n in needles:
        assert n in run.last["message"], run.last["message"]


def test_rows_go_to_the_right_endpoints_and_come_back_in_input_order(stub, tmp_path):
    _write(tmp_path, ROWS)
    spec = _spec(stub, tmp_path, stop=["\n\n", "###"])
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert run.events[0] == {"event": "progress", "stage": "requesting"}

    ids = {row.get("prompt") or row["messages"][-1]["content"]: row["id"] for row in ROWS}
    by_id = {}
    for r in stub.requests:
        body = r["body"]
        by_id[ids[body["prompt"] if "prompt" in body else body["messages"][-1]["content"]]] = r
        assert r["headers"]["Authorization"] == "Bearer sk-test-123"
        assert body["model"] == "judge-7b" and body["temperature"] == 0.7 and body["top_p"] == 0.9
        assert body["max_tokens"] == 64 and body["stop"] == ["\n\n", "###"]
    assert len(stub.requests) == 4
    assert {i: r["path"] for i, r in by_id.items()} == {"c1": "/v1/chat/completions", "p1": "/v1/completions",
                                                          "c2": "/v1/chat/completions", "p2": "/v1/completions"}
    for rid, r in by_id.items():
        assert r["body"]["seed"] == row_seed(42, rid) and 0 <= r["body"]["seed"] < 2 ** 31
    # system_prompt goes first where the conversation has no system turn of its own
    assert by_id["c1"]["body"]["messages"] == [{"role": "system", "content": "You are a helpful assistant."},
                                               {"role": "user", "content": "SLOW hello there"}]
    assert by_id["c2"]["body"]["messages"] == ROWS[2]["messages"]
    assert by_id["p1"]["body"]["prompt"] == "Once upon a time" and "messages" not in by_id["p1"]["body"]

    rows = _read(spec["output"])
    assert [r["id"] for r in rows] == ["c1", "p1", "c2", "p2"]  # input order, though SLOW rows finish last
    assert rows[0] == {"id": "c1", "text": "echo: SLOW hello there", "prompt_tokens": 3, "new_tokens": 4,
                       "finish_reason": "stop"}
    assert rows[1]["text"] == "echo: Once upon a time" and rows[2]["finish_reason"] == "length"
    res = run.last
    assert res["event"] == "result" and res["rows"] == 4 and res["output"] == spec["output"]
    assert res["new_tokens"] == sum(r["new_tokens"] for r in rows) and res["tokens_per_s"] > 0
    done = [e for e in run.progress() if "done" in e]
    assert done and done[-1]["done"] == 4 and all(e["total"] == 4 for e in done)
    assert not (tmp_path / "out" / "gen.jsonl.partial").exists()


def test_no_api_key_env_sends_no_authorization(stub, tmp_path):
    _write(tmp_path, ROWS[1:2])
    run = run_job("generate", _spec(stub, tmp_path, endpoint={"api_key_env": None}), tmp_path / "spec.json")
    assert run.rc == 0, run
    assert "Authorization" not in stub.requests[0]["headers"] and "stop" not in stub.requests[0]["body"]


def test_server_errors_and_rate_limits_are_retried(stub, tmp_path):
    _write(tmp_path, [{"id": "a", "prompt": "FAIL500 x"}, {"id": "b", "messages": [{"role": "user", "content": "FAIL429 y"}]}])
    spec = _spec(stub, tmp_path)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert len(stub.requests) == 4
    assert [r["text"] for r in _read(spec["output"])] == ["echo: FAIL500 x", "echo: FAIL429 y"]


def test_retries_exhausted_is_crashed_with_the_last_error(stub, tmp_path):
    _write(tmp_path, [{"id": "a", "prompt": "ALWAYS503"}])
    run = run_job("generate", _spec(stub, tmp_path, endpoint={"max_retries": 2}), tmp_path / "spec.json")
    assert run.rc == 1 and run.last["kind"] == "crashed", run
    assert "3 attempt" in run.last["message"] and "HTTP 503: overloaded" in run.last["message"]
    assert len(stub.requests) == 3


def test_connection_refused_is_crashed(tmp_path):
    _write(tmp_path, [{"id": "a", "prompt": "x"}])
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = _spec(None, tmp_path, endpoint={"base_url": f"http://127.0.0.1:{port}/v1", "api_key_env": None,
                                           "max_retries": 1})
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 1 and run.last["kind"] == "crashed", run
    assert "2 attempt" in run.last["message"] and "refused" in run.last["message"].lower()


def test_client_error_is_bad_input_with_the_server_message(stub, tmp_path):
    _write(tmp_path, [{"id": "a", "prompt": "BAD400 " * 20}])
    run = run_job("generate", _spec(stub, tmp_path), tmp_path / "spec.json")
    _bad(run, "HTTP 400", "maximum context length is 8 tokens", "/v1/completions")
    assert len(stub.requests) == 1  # not retried


def test_a_failure_cuts_off_the_requests_in_flight(stub, tmp_path):
    _write(tmp_path, [{"id": f"h{i}", "prompt": f"HANG {i}"} for i in range(3)] + [{"id": "b", "prompt": "SLOW BAD400"}])
    t0 = time.monotonic()
    run = run_job("generate", _spec(stub, tmp_path, endpoint={"concurrency": 4}), tmp_path / "spec.json")
    _bad(run, "HTTP 400")
    assert time.monotonic() - t0 < 10, "the job waited for the hanging requests"


def test_unset_api_key_env_is_bad_input_naming_it(stub, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    _write(tmp_path, ROWS)
    run = run_job("generate", _spec(stub, tmp_path), tmp_path / "spec.json")
    _bad(run, KEY_ENV, "not set")
    assert len(run.events) == 1 and not stub.requests


def test_resume_skips_rows_already_in_the_partial(stub, tmp_path):
    _write(tmp_path, ROWS)
    spec = _spec(stub, tmp_path)
    kept = {"id": "c2", "text": "from an earlier run", "prompt_tokens": 5, "new_tokens": 4, "finish_reason": "stop"}
    write_partial(spec, json.dumps(kept) + "\n" + '{"id": "p1", "te')  # plus a torn line from a crash
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert len(stub.requests) == 3 and not any("LONG" in json.dumps(r["body"]) for r in stub.requests)
    rows = _read(spec["output"])
    assert [r["id"] for r in rows] == ["c1", "p1", "c2", "p2"] and rows[2] == kept
    assert run.last["new_tokens"] == sum(r["new_tokens"] for r in rows) - 4
    assert any(e.get("resumed") == 1 for e in run.progress())


def test_requests_overlap_up_to_concurrency(stub, tmp_path):
    stub.delay = 0.2
    _write(tmp_path, [{"id": f"r{i}", "prompt": f"row {i}"} for i in range(8)])
    t0 = time.monotonic()
    run = run_job("generate", _spec(stub, tmp_path, endpoint={"concurrency": 8}), tmp_path / "spec.json")
    assert run.rc == 0, run
    # 8 x 0.2 s one after another would be 1.6 s; the engine's own clock excludes interpreter start
    assert run.last["elapsed_s"] < 0.9, (run.last, time.monotonic() - t0)
    assert stub.max_in_flight >= 4, stub.max_in_flight

    stub.max_in_flight = 0
    stub.requests.clear()
    _write(tmp_path, [{"id": f"s{i}", "prompt": f"row {i}"} for i in range(4)])
    spec = _spec(stub, tmp_path, endpoint={"concurrency": 2}, output=str(tmp_path / "out2.jsonl"))
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert stub.max_in_flight == 2 and len(stub.requests) == 4


@pytest.mark.parametrize("over, needles", [
    ({"endpoint": None}, ["endpoint", "openai"]),
    ({"backend": "transformers", "model": "/nonexistent/model"}, ["endpoint", "only for backend"]),
    ({"backend": "transformers", "endpoint": None}, ["model", "transformers"]),
    ({"backend": "vllm"}, ["backend", "vllm"]),
    ({"endpoint": {"base_url": "localhost:8000/v1", "model": "m"}}, ["base_url", "http://"]),
    ({"endpoint": {"base_url": "http://h/v1"}}, ["model"]),
    ({"endpoint": {"base_url": "http://h/v1", "model": "m", "concurrency": 0}}, ["concurrency"]),
    ({"endpoint": {"base_url": "http://h/v1", "model": "m", "api_key": "sk-secret"}}, ["api_key"]),
])
def test_spec_checks(tmp_path, over, needles):
    _write(tmp_path, ROWS)
    spec = _spec(None, tmp_path)
    spec.update(over)
    _bad(run_job("generate", spec, tmp_path / "spec.json"), *needles)


def test_helpers():
    assert server_message(b'{"error": {"message": "nope", "code": 400}}') == "nope"
    assert server_message(b'{"error": "flat"}') == "flat"
    assert server_message(b'{"detail": "fastapi"}') == "fastapi"
    assert server_message(b"<html>oops</html>") == "<html>oops</html>"
    assert retry_after({"Retry-After": "2"}) == 2.0
    assert retry_after({"Retry-After": "100000"}) == 300.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None and retry_after({"Retry-After": "soon"}) is None
    assert row_seed(1, "a") == row_seed(1, "a") != row_seed(2, "a")


def test_top_logprobs_are_asked_for_and_read_in_both_api_shapes(stub, tmp_path):
    _write(tmp_path, ROWS[:2])
    spec = _spec(stub, tmp_path, top_logprobs=2)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    bodies = {r["path"]: r["body"] for r in stub.requests}
    assert bodies["/v1/chat/completions"]["logprobs"] is True and bodies["/v1/chat/completions"]["top_logprobs"] == 2
    assert bodies["/v1/completions"]["logprobs"] == 2
    chat, completion = _read(spec["output"])
    assert chat["top_logprobs"] == [{"token": "M", "logprob": -0.2}, {"token": "m", "logprob": -1.9}]
    assert completion["top_logprobs"] == [{"token": "echo", "logprob": -0.1}, {"token": "Echo", "logprob": -2.5}]
