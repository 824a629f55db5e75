"""SamplingParams and RequestOutputKind of the fake vllm package, with vLLM's checks on the fields the engine sets."""

from __future__ import annotations

from enum import Enum


class RequestOutputKind(Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


class SamplingParams:
    def __init__(self, n: int = 1, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                 seed: int | None = None, stop: list[str] | None = None, stop_token_ids: list[int] | None = None,
                 max_tokens: int | None = 16, skip_special_tokens: bool = True,
                 output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE, logprobs: int | None = None) -> None:
        if n != 1:
            raise ValueError("the fake answers n=1 only")
        if temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if top_k < -1:
            raise ValueError(f"top_k must be 0 (disable), or at least 1, got {top_k}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if logprobs is not None and (not isinstance(logprobs, int) or logprobs < 0):
            raise ValueError(f"logprobs must be a non-negative integer, got {logprobs!r}")
        if stop_token_ids is not None and not all(isinstance(i, int) for i in stop_token_ids):
            raise ValueError("stop_token_ids must contain only integers")
        self.n, self.temperature, self.top_p, self.top_k = n, temperature, top_p, top_k
        self.seed, self.stop, self.stop_token_ids = seed, stop, stop_token_ids or []
        self.max_tokens, self.skip_special_tokens, self.output_kind = max_tokens, skip_special_tokens, output_kind
        self.logprobs = logprobs

    def as_dict(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k, "seed": self.seed,
                "stop": self.stop, "stop_token_ids": self.stop_token_ids, "max_tokens": self.max_tokens,
                "output_kind": self.output_kind.name, "logprobs": self.logprobs}
