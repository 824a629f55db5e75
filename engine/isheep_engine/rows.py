"""generate's rows: the request rows read from the input file, the result rows written out, the seeds rows are
sampled with, and stop strings cut from a text. Shared by every backend (transformers_backend.py, vllm_backend.py,
openai_backend.py), so that all of them read, render and write rows the same way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .files import read_jsonl
from .protocol import BadInput


@dataclass
class Request:
    index: int  # position in the input file
    id: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    ids: list[int] | None = None  # prompt token ids, once rendered


def parse_rows(path: str) -> list[Request]:
    requests: list[Request] = []
    seen: dict[str, int] = {}
    for lineno, row in read_jsonl(path):
        where = f"{path} line {lineno}"
        rid = row.get("id")
        if not isinstance(rid, str) or not rid:
            raise BadInput(f"{where}: \"id\" must be a non-empty string")
        if rid in seen:
            raise BadInput(f"{where}: duplicate id {rid!r} (first on line {seen[rid]})")
        seen[rid] = lineno
        has_prompt, has_messages = "prompt" in row, "messages" in row
        if has_prompt == has_messages:
            raise BadInput(f"{where}: a row needs exactly one of \"prompt\" or \"messages\"")
        if has_prompt:
            if not isinstance(row["prompt"], str) or not row["prompt"]:
                raise BadInput(f"{where}: \"prompt\" must be a non-empty string")
            requests.append(Request(len(requests), rid, prompt=row["prompt"]))
            continue
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise BadInput(f"{where}: \"messages\" must be a non-empty list")
        for m in msgs:
            if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                raise BadInput(f"{where}: each message must be an object with string \"role\" and \"content\"")
        requests.append(Request(len(requests), rid, messages=[{"role": m["role"], "content": m["content"]} for m in msgs]))
    return requests


def render_ids(tokenizer: Any, req: Request, system_prompt: str | None) -> list[int]:
    """A row's prompt token ids: raw text as is, a conversation through the tokenizer's chat template. A
    conversation that ends on an assistant turn has that turn continued (the answer is made to begin with it: an
    assistant prefill) rather than a new one opened."""
    if req.prompt is not None:
        return tokenizer(req.prompt, add_special_tokens=True)["input_ids"]
    messages = with_system_prompt(req.messages or [], system_prompt)
    prefill = messages[-1]["role"] == "assistant"
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=not prefill, continue_final_message=prefill,
                                         tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def with_system_prompt(messages: list[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    """The system_prompt rule: put first in conversations that have no system turn of their own."""
    if system_prompt is not None and not any(m["role"] == "system" for m in messages):
        return [{"role": "system", "content": system_prompt}] + messages
    return messages


def batch_seed(seed: int, ids: list[str]) -> int:
    """The seed of a batch of rows, from the job's seed and the rows' ids (a row alone: [its id])."""
    digest = hashlib.sha256(("%d\x1e" % seed + "\x1f".join(ids)).encode()).hexdigest()
    return int(digest[:15], 16)


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    if not stop:
        return text, False
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def make_row(req: Request, text: str, prompt_tokens: int, new_tokens: int, finish_reason: str,
             top_logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    row = {"id": req.id, "text": text, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
           "finish_reason": finish_reason}
    if top_logprobs is not None:
        row["top_logprobs"] = top_logprobs
    return row


def top_entries(pairs: list[tuple[str, float]], n: int) -> list[dict[str, Any]]:
    """The n most likely first tokens as [{"token", "logprob"}], most likely first (ties: as given)."""
    ranked = sorted(enumerate(pairs), key=lambda p: (-p[1][1], p[0]))[:n]
    return [{"token": token, "logprob": float(logprob)} for _, (token, logprob) in ranked]
