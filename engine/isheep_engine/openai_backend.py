"""The "openai" backend of the generate job (backend.Backend): each row is sent to an OpenAI-compatible HTTP
server (vLLM, SGLang, TGI, llama.cpp, Ollama, or a hosted API used as an outside judge). Standard library only.

Requests (JSON, POST):
  "messages" rows -> {base_url}/chat/completions  {"model", "messages" (system_prompt rule applied), ...}
  "prompt" rows   -> {base_url}/completions       {"model", "prompt", ...}
  both with "temperature", "top_p", "max_tokens" (= sampling.max_new_tokens), "seed" (a 31-bit integer derived
  from sampling.seed and the row's id) and "stop" when the spec gives one. With endpoint.api_key_env set, the
  key is read from that environment variable of the worker and sent as "Authorization: Bearer KEY"; a named
  variable that is unset or empty is bad_input.

Answers: the text of choices[0] (cut at the first stop string, should the server have left one in), usage's
prompt_tokens and completion_tokens (0 when absent), finish_reason "length" when the server says "length",
else "stop".

Up to endpoint.concurrency requests are in flight at once (a thread pool). Connection errors, timeouts
(endpoint.timeout_s per attempt), HTTP 408, 429 and 5xx are retried up to endpoint.max_retries times with
exponential backoff (0.5 s doubling up to 30 s, jittered), or after the server's Retry-After (at most 300 s)
when it sends one; when the retries run out the job fails as crashed with the last error. Any other HTTP
error, or a 200 answer that is not an OpenAI-style completion, is bad_input with the status and the server's
own message. On any failure the requests still in flight are cut off at once, so the job ends promptly; rows
already finished stay in OUTPUT.partial for a re-run.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import queue
import random
import socket
import threading
import time
import urllib.error
import urllib.request
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from . import protocol
from .backend import Sink
from .protocol import BadInput, EngineError
from .rows import Request, batch_seed, cut_at_stop, make_row, top_entries, with_system_prompt

RETRY_STATUSES = frozenset({408, 429})  # and every 5xx
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 300.0


def row_seed(seed: int, row_id: str) -> int:
    """The seed sent with a row: fits a signed 32-bit integer, which every server accepts."""
    return batch_seed(seed, [row_id]) & 0x7FFFFFFF


class _Aborted(Exception):
    """Raised in a worker whose request was cut off because the job is failing anyway."""


class _Sockets:
    """The sockets of the requests in flight, so that abort() can end them at once: a worker blocked on a slow
    answer would otherwise hold the process (its thread is joined at exit) for up to timeout_s."""

    def __init__(self) -> None:
        self.aborted = threading.Event()
        self._lock = threading.Lock()
        self._socks: weakref.WeakSet = weakref.WeakSet()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)
            if not self.aborted.is_set():
                return
        _cut(sock)

    def abort(self) -> None:
        self.aborted.set()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown, also for TLS sockets: wakes up a thread blocked reading it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _tracked(conn_class: type, sockets: _Sockets) -> type:
    class Tracked(conn_class):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            sockets.track(self.sock)

    return Tracked


def _opener(sockets: _Sockets) -> urllib.request.OpenerDirector:
    """A urllib opener (environment proxies included) whose connections register their sockets."""
    plain = _tracked(http.client.HTTPConnection, sockets)
    tls = _tracked(http.client.HTTPSConnection, sockets)

    class HTTPHandler(urllib.request.HTTPHandler):
        def do_open(self, http_class, req, **kw):  # noqa: ARG002 - ours instead
            return super().do_open(plain, req, **kw)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def do_open(self, http_class, req, **kw):  # noqa: ARG002 - ours instead
            return super().do_open(tls, req, **kw)

    return urllib.request.build_opener(HTTPHandler(), HTTPSHandler())


def server_message(body: bytes) -> str:
    """The error message in an error answer's body ({"error": {"message"}}, {"error": STR}, {"detail"}, text)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:1000]
        if isinstance(err, str):
            return err[:1000]
        for key in ("message", "detail"):
            if isinstance(data.get(key), str):
                return data[key][:1000]
    return text[:500]


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), None when absent or unreadable."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def first_token_logprobs(choice: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The first token's top log-probabilities from a choice: chat's logprobs.content[0].top_logprobs
    ([{"token", "logprob"}]) or the completions API's logprobs.top_logprobs[0] ({token: logprob}); [] when the
    server sent none (the caller then reads the text)."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    pairs: list[tuple[str, float]] = []
    content = lp.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        for entry in content[0].get("top_logprobs") or []:
            if isinstance(entry, dict) and isinstance(entry.get("token"), str) and isinstance(entry.get("logprob"), (int, float)):
                pairs.append((entry["token"], float(entry["logprob"])))
    else:
        tops = lp.get("top_logprobs")
        if isinstance(tops, list) and tops and isinstance(tops[0], dict):
            pairs = [(t, float(v)) for t, v in tops[0].items() if isinstance(v, (int, float))]
    return top_entries(pairs, n)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class OpenAIBackend:
    """Rows sent to an OpenAI-compatible server, `concurrency` at a time."""

    def __init__(self, spec: dict[str, Any]):
        endpoint = spec["endpoint"]
        self.base_url = endpoint["base_url"].rstrip("/")
        self.model = endpoint["model"]
        self.concurrency = endpoint["concurrency"]
        self.timeout = endpoint["timeout_s"]
        self.max_retries = endpoint["max_retries"]
        self.sampling = spec["sampling"]
        self.system_prompt = spec["system_prompt"]
        self.stop = spec["stop"]
        self.top_logprobs = spec.get("top_logprobs")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "User-Agent": "isheep-engine"}
        name = endpoint["api_key_env"]
        if name is not None:
            key = os.environ.get(name)
            if not key:
                state = "empty" if key == "" else "not set"
                raise BadInput(f"endpoint.api_key_env names the environment variable {name}, which is {state} "
                               f"on this worker")
            self.headers["Authorization"] = f"Bearer {key}"
        self._sockets = _Sockets()
        self._opener = _opener(self._sockets)
        protocol.progress(stage="requesting")

    def run(self, requests: list[Request], sink: Sink) -> float:
        """Generates the rows not in sink.done; returns the seconds spent (wall time of the requests)."""
        todo = [r for r in requests if r.id not in sink.done]
        if not todo:
            return 0.0
        started = time.monotonic()
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo)), thread_name_prefix="isheep-openai")
        try:
            for req in todo:
                pool.submit(self.generate_row, req).add_done_callback(finished.put)
            left = len(todo)
            while left:
                try:
                    fut = finished.get(timeout=0.25)
                except queue.Empty:
                    pass
                else:
                    left -= 1
                    sink.add(fut.result())  # a failed row raises here
                sink.commit()
        except BaseException:
            self._sockets.abort()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        sink.commit(force=True)
        return time.monotonic() - started

    def request_body(self, req: Request) -> tuple[str, dict[str, Any]]:
        """(url, JSON body) of a row's request."""
        s = self.sampling
        body: dict[str, Any] = {"model": self.model}
        if req.messages is not None:
            url = self.base_url + "/chat/completions"
            body["messages"] = with_system_prompt(req.messages, self.system_prompt)
        else:
            url = self.base_url + "/completions"
            body["prompt"] = req.prompt
        body.update(temperature=s["temperature"], top_p=s["top_p"], max_tokens=s["max_new_tokens"],
                    seed=row_seed(s["seed"], req.id))
        if self.stop:
            body["stop"] = list(self.stop)
        if self.top_logprobs:
            if req.messages is not None:
                body.update(logprobs=True, top_logprobs=self.top_logprobs)
            else:
                body["logprobs"] = self.top_logprobs  # the legacy completions API: an integer
        return url, body

    def generate_row(self, req: Request) -> dict[str, Any]:
        url, body = self.request_body(req)
        answer = self.post(url, body)
        choices = answer.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            detail = f": {server_message(json.dumps(answer).encode())}" if "error" in answer else ""
            raise BadInput(f"POST {url}: the answer has no \"choices\"{detail} "
                           f"(is base_url an OpenAI-compatible /v1 endpoint?)")
        if req.messages is not None:
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
        else:
            text = choice.get("text")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise BadInput(f"POST {url}: the answer's text is not a string: {json.dumps(text)[:200]}")
        text, stopped = cut_at_stop(text, self.stop)
        finish = "length" if choice.get("finish_reason") == "length" and not stopped else "stop"
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        top = first_token_logprobs(choice, self.top_logprobs) if self.top_logprobs else None
        return make_row(req, text, _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")), finish,
                        top)

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries; returns the answer's JSON object."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        attempts = self.max_retries + 1
        last = ""
        for attempt in range(attempts):
            if self._sockets.aborted.is_set():
                raise _Aborted()
            wait_s = None
            request = urllib.request.Request(url, data=data, headers=self.headers, method="POST")
            try:
                with self._opener.open(request, timeout=self.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as exc:
                try:
                    message = server_message(exc.read())
                except (OSError, http.client.HTTPException):
                    message = exc.reason or "(no body)"
                finally:
                    exc.close()
                if exc.code not in RETRY_STATUSES and not 500 <= exc.code <= 599:
                    raise BadInput(f"POST {url}: HTTP {exc.code}: {message}") from None
                last = f"HTTP {exc.code}: {message}"
                wait_s = retry_after(exc.headers)
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut short
                if self._sockets.aborted.is_set():
                    raise _Aborted() from None
                last = _describe(exc)
            else:
                try:
                    answer = json.loads(raw)
                except ValueError:
                    answer = None
                if not isinstance(answer, dict):
                    snippet = raw[:200].decode("utf-8", "replace")
                    raise BadInput(f"POST {url}: the answer is not a JSON object: {snippet!r} "
                                   f"(is base_url an OpenAI-compatible /v1 endpoint?)")
                return answer
            if attempt + 1 < attempts:
                if wait_s is None:
                    wait_s = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempt) * random.uniform(0.5, 1.0)
                if self._sockets.aborted.wait(wait_s):
                    raise _Aborted()
        raise EngineError(f"POST {url} failed after {attempts} attempt(s); last error: {last}")
