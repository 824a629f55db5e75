"""A stand-in for the vllm package, for testing how the engine drives vLLM on machines without a GPU (vLLM needs
one, and pins its own torch). It mirrors the parts of vLLM 0.33's interface the engine uses (LLM(**kwargs),
llm.llm_engine.add_request / step / has_unfinished_requests, SamplingParams, RequestOutput.outputs[0]) and
answers deterministically from each request's prompt ids and seed, never from batch neighbours.

Environment:
  FAKE_VLLM_LOG=FILE          append a JSON line per LLM(...) (its kwargs) and per request (its sampling params)
  FAKE_VLLM_CRASH_AFTER=N     os._exit(9) once N requests have finished in this process (a killed job)
  FAKE_VLLM_PER_STEP=K        requests finished per step (default 3)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from .sampling_params import RequestOutputKind, SamplingParams

__all__ = ["LLM", "SamplingParams", "RequestOutputKind"]


def _log(entry: dict) -> None:
    path = os.environ.get("FAKE_VLLM_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None
    # with SamplingParams(logprobs=N): per generated token, {token id: Logprob} of the sampled token and the top N
    logprobs: list[dict[int, Logprob]] | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool


@dataclass
class _Request:
    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams
    steps_left: int = field(default=2)


class _Engine:
    def __init__(self) -> None:
        self._queue: list[_Request] = []
        self._finished = 0
        self._crash_after = int(os.environ.get("FAKE_VLLM_CRASH_AFTER", "0") or 0)
        self._per_step = int(os.environ.get("FAKE_VLLM_PER_STEP", "3") or 3)

    def add_request(self, request_id, prompt, params) -> str:
        if not isinstance(request_id, str):
            raise TypeError(f"request_id must be a string, got {type(request_id)}")
        if not isinstance(params, SamplingParams):
            raise TypeError("params must be SamplingParams")
        ids = prompt["prompt_token_ids"]
        if not (isinstance(ids, list) and ids and all(isinstance(i, int) for i in ids)):
            raise ValueError("prompt_token_ids must be a non-empty list of ints")
        _log({"request": request_id, "prompt_tokens": len(ids), "params": params.as_dict()})
        self._queue.append(_Request(request_id, list(ids), params))
        return f"{request_id}-internal"

    def has_unfinished_requests(self) -> bool:
        return bool(self._queue)

    def step(self) -> list[RequestOutput]:
        done, self._queue = self._queue[: self._per_step], self._queue[self._per_step:]
        outs = []
        for req in done:
            if self._crash_after and self._finished >= self._crash_after:
                os._exit(9)
            self._finished += 1
            outs.append(RequestOutput(req.request_id, req.prompt_token_ids, [_answer(req)], True))
        return outs


def _answer(req: _Request) -> CompletionOutput:
    p = req.params
    digest = hashlib.sha256(json.dumps([req.prompt_token_ids, p.seed, p.temperature]).encode()).hexdigest()
    words = [f"w{digest[i:i + 4]}" for i in range(0, 40, 4)]
    n = 3 + int(digest[40:42], 16) % 8  # 3..10 words
    text = " ".join(words[:n])
    if p.stop:
        for s in p.stop:
            text = text.replace(s, "")
    tokens = list(range(100, 100 + n))
    if n > p.max_tokens:
        out = CompletionOutput(0, " ".join(words[: p.max_tokens]), tokens[: p.max_tokens], "length")
    else:
        out = CompletionOutput(0, text, tokens + [p.stop_token_ids[0]] if p.stop_token_ids else tokens, "stop")
    if p.logprobs:
        # the first token: the first word at probability 1/2, then made-up alternatives, 1/4, 1/8, ...
        first = {100: Logprob(-0.6931471805599453, 1, words[0])}
        first.update({900 + k: Logprob(-0.6931471805599453 * (k + 2), k + 2, f"alt{k}") for k in range(p.logprobs - 1)})
        out.logprobs = [first] + [{t: Logprob(-0.1, 1, "")} for t in out.token_ids[1:]]
    return out


class LLM:
    def __init__(self, model: str, **kwargs) -> None:
        if not os.path.isdir(model):
            raise ValueError(f"no model folder at {model}")
        _log({"llm": {"model": model, **kwargs}})
        self.llm_engine = _Engine()
