"""generate: batched text generation over a JSONL file of prompts, resumable.

    python -m isheep_engine generate --spec spec.json

spec:
  {"backend": "auto"|"transformers"|"vllm"|"openai",
   "model": DIR, "input": FILE.jsonl, "output": FILE.jsonl,
   "sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 1000, "seed": 1234},
   "batch_size": 16, "device": "auto"|"cpu"|"cuda", "dtype": "auto"|"float32"|"bfloat16"|"float16",
   "cache": "auto"|"dynamic"|"static", "compile": "auto"|true|false,
   "system_prompt": STR|null, "stop": [STR, ...]|null,
   "vllm": {"tensor_parallel_size": null, "gpu_memory_utilization": 0.9, "max_model_len": null,
            "enforce_eager": false},
   "endpoint": {"base_url": "http://host:8000/v1", "model": NAME, "api_key_env": "OPENAI_API_KEY"|null,
                "concurrency": 8, "timeout_s": 120, "max_retries": 5}}
  input and output are required; the rest default to the values shown (backend to "auto",
  system_prompt, stop and api_key_env to null). temperature 0 means greedy decoding.
  backend "auto" (default): "vllm" when the vllm package can be imported and the job runs on CUDA, else
    "transformers".
  backend "transformers": generates locally from the model folder "model" (required); "endpoint" is refused.
  backend "vllm": generates locally from "model" with vLLM (vllm_backend.py): continuous batching, tensor
    parallel over "vllm.tensor_parallel_size" GPUs (null: every GPU the job sees); batch_size, cache and compile
    are not used (vLLM has its own scheduler, paged KV cache and CUDA graphs). "endpoint" is refused.
  backend "openai": sends each row to an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama, ...):
    "endpoint" is required, its base_url and model too; "model" may be left out and is not used, nor are
    batch_size, device, dtype, cache and compile. See openai_backend.py for the requests, retries and error kinds.
  cache (transformers): "dynamic" grows the KV cache as tokens come (plain `generate`); "static" preallocates
    it (transformers' cache_implementation="static", sized once for the longest prompt + max_new_tokens) so that
    the decode step has fixed shapes and can be compiled. "auto": static on CUDA, dynamic on CPU.
  compile (transformers): torch.compile the decode step (transformers' own compiled decode; needs a static
    cache: "compile": true with "cache": "auto" picks static, with "cache": "dynamic" is bad_input). "auto": on
    CUDA when the cache is static, off on CPU. The first batches pay for compiling (tens of seconds).
    With a static cache, batches are padded to fixed shapes so the compiled graph is reused: prompts (left
    padding) to the next multiple of 64 tokens, rows to the next power of two (at most batch_size; the extra
    rows repeat a prompt and are thrown away).

input rows:  {"id": STR, "prompt": STR}                 raw text completion, no chat template
             {"id": STR, "messages": [{"role", "content"}, ...]}   rendered with the chat template
             (system_prompt, when given, is put first in "messages" rows that have no system turn)
             (openai: "prompt" rows go to POST {base_url}/completions, "messages" rows to
             POST {base_url}/chat/completions, where the server applies its chat template)
output rows, in input order:
  {"id", "text", "prompt_tokens", "new_tokens", "finish_reason": "stop"|"length"}
  (openai: the token counts are the server's "usage", 0 when it sends none)

Finished rows are appended to OUTPUT.partial (flushed, and fsynced at each progress event). One job at a time
works on an output: it holds flock on OUTPUT.lock (removed at the end) from before it looks at OUTPUT and the
partial to the end; another job for the same output waits for it (see files.exclusive_lock: {"stage":"waiting
for lock"} progress, then kind crashed after ISHEEP_ENGINE_LOCK_WAIT_S, default 120 s). transformers generates
in batches sorted by prompt length, each seeded from (sampling.seed, its ids), so a resumed run writes the same
rows as an uninterrupted one on the same device; vllm and openai give each row its own seed derived from
(sampling.seed, its id) (servers do not all promise reproducible sampling, though). OUTPUT is written at the end
(temporary file + rename) and the partial removed.

What is reused when: rows are reused only from work made from the same things. made_from() lists them (the
input file's sha256, sampling with its seed, stop, system_prompt, the backend, the model folder's identity or
the endpoint's base_url and model, and for transformers batch_size, device, dtype and cache); their sha256 is
the fingerprint, recorded in OUTPUT.partial.meta.json before a partial's first row and in OUTPUT.meta.json
(with the row count and OUTPUT's sha256) just before OUTPUT is renamed into place.
  - OUTPUT there, its record naming this fingerprint and its sha256: the result comes at once, reused: true,
    new_tokens 0, without loading the model.
  - OUTPUT there otherwise (another fingerprint, no record: an older engine's): moved to
    OUTPUT.stale-<UTC time> (its record beside it) and generated again ({"stage":"discarded stale output"}).
  - OUTPUT.partial made from this fingerprint: its ids are skipped (a torn last line is cut off); made from
    another, or without a record: moved to OUTPUT.partial.stale-<UTC time> and begun afresh
    ({"stage":"discarded stale partial","reason":...}, and a line on stderr). Nothing is deleted but the
    partial of a finished OUTPUT.

events: {"event":"progress","stage":"loading"} (openai: {"event":"progress","stage":"requesting"}), then
        {"event":"progress","done":N,"total":M,"new_tokens":K,"elapsed_s":S}
        per batch (transformers) or as rows finish, at most 4 a second (openai)
        (after resuming, first one {"event":"progress","done":R,"total":M,"new_tokens":0,"elapsed_s":S,"resumed":R})
        (work set aside: {"event":"progress","stage":"discarded stale partial"|"discarded stale output",
         "reason":STR,"path":FILE,"moved_to":FILE})
result: {"event":"result","output":FILE,"rows":M,"new_tokens":K,"tokens_per_s":X,"elapsed_s":S,"reused":bool}
        new_tokens counts the tokens generated by this run (not rows taken from the partial file); tokens_per_s
        is new_tokens over the time spent generating (model loading excluded).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from . import protocol
from .files import dumps_row, exclusive_lock, fsync_dir, read_jsonl, stale_name, write_json_atomic, write_jsonl_atomic
from .identity import digest, file_sha256, model_identity
from .models import (DEVICES, DTYPES, eos_token_ids, load_causal_lm, load_tokenizer, quiet_libraries,
                     resolve_device, resolve_dtype, setup_threads)
from .protocol import BadInput
from .spec import Field, load_spec, non_negative, obj, path_field, positive


def _stop_check(v: list) -> str | None:
    if not all(isinstance(s, str) and s for s in v):
        return "must be a list of non-empty strings"
    return None


def _url_check(v: str) -> str | None:
    parts = urllib.parse.urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an http:// or https:// URL with a host, such as http://localhost:8000/v1"
    return None


BACKENDS = ("auto", "transformers", "vllm", "openai")
CACHES = ("auto", "dynamic", "static")
PROMPT_BUCKET = 64  # with a static cache, prompts are left-padded to a multiple of this many tokens

SPEC = {
    "backend": Field((str,), "auto", choices=BACKENDS),
    "model": path_field(default=None, nullable=True),  # required by the transformers backend: see check_backend
    "input": path_field(),
    "output": path_field(),
    "sampling": obj({
        "temperature": Field((float,), 1.0, check=non_negative),
        "top_p": Field((float,), 0.95, check=lambda v: None if 0 < v <= 1 else "must be in (0, 1]"),
        "max_new_tokens": Field((int,), 1000, check=positive),
        "seed": Field((int,), 1234),
    }),
    "batch_size": Field((int,), 16, check=positive),
    "device": Field((str,), "auto", choices=DEVICES),
    "dtype": Field((str,), "auto", choices=DTYPES),
    "cache": Field((str,), "auto", choices=CACHES),
    "compile": Field((str, bool), "auto",
                     check=lambda v: None if v in ("auto", True, False) else 'must be "auto", true or false'),
    "system_prompt": Field((str,), None, nullable=True),
    "stop": Field((list,), None, nullable=True, check=_stop_check),
    "vllm": obj({
        "tensor_parallel_size": Field((int,), None, nullable=True, check=positive),
        "gpu_memory_utilization": Field((float,), 0.9,
                                        check=lambda v: None if 0 < v <= 1 else "must be in (0, 1]"),
        "max_model_len": Field((int,), None, nullable=True, check=positive),
        "enforce_eager": Field((bool,), False),
    }),
    "endpoint": obj({  # required by the openai backend, refused by the others: see check_backend
        "base_url": Field((str,), check=_url_check),
        "model": Field((str,), check=lambda v: None if v.strip() else "must be a non-empty string"),
        "api_key_env": Field((str,), None, nullable=True,
                             check=lambda v: None if v and "=" not in v else "must be an environment variable name"),
        "concurrency": Field((int,), 8, check=lambda v: None if 1 <= v <= 256 else "must be in 1..256"),
        "timeout_s": Field((float,), 120.0, check=positive),
        "max_retries": Field((int,), 5, check=lambda v: None if 0 <= v <= 100 else "must be in 0..100"),
    }, default=None, nullable=True),
}


def resolve_cache(cache: str, compile_: str | bool, device: str) -> tuple[str, bool]:
    """The (cache, compile) a spec's "cache" and "compile" come to on ``device``."""
    if cache == "auto":
        cache = "static" if device == "cuda" or compile_ is True else "dynamic"
    if compile_ == "auto":
        compile_ = device == "cuda" and cache == "static"
    if compile_ and cache != "static":
        raise BadInput('spec: "compile": true needs a static KV cache ("cache": "static" or "auto")')
    return cache, bool(compile_)


def bucket_width(n: int, step: int = PROMPT_BUCKET) -> int:
    """n rounded up to a multiple of step."""
    return max(step, -(-n // step) * step)


def bucket_rows(n: int, batch_size: int) -> int:
    """n rounded up to a power of two, at most batch_size (and never below n)."""
    return max(n, min(batch_size, 1 << max(0, (n - 1).bit_length())))


def choose_backend(backend: str, device: str) -> str:
    """The backend "auto" comes to: vLLM where it is installed and the job runs on CUDA."""
    if backend != "auto":
        return backend
    from .vllm_backend import vllm_installed

    return "vllm" if device != "cpu" and vllm_installed() and resolve_device(device) == "cuda" else "transformers"


def check_backend(spec: dict[str, Any]) -> None:
    """The keys whose need depends on the backend."""
    backend = spec["backend"]
    if backend == "auto" and spec["endpoint"] is not None:
        raise BadInput('spec: "endpoint" is only for backend "openai"; set "backend": "openai" to use it')
    if backend == "openai":
        if spec["endpoint"] is None:
            raise BadInput('spec: "endpoint" (an object with at least "base_url" and "model") is required '
                           'when "backend" is "openai"')
    else:
        if spec["model"] is None:
            raise BadInput(f'spec: missing required key \'model\' (the model folder) for backend "{backend}"')
        if spec["endpoint"] is not None:
            raise BadInput(f'spec: "endpoint" is only for backend "openai", not "{backend}"')
        resolve_cache(spec["cache"], spec["compile"], "cpu")  # compile true with a dynamic cache: bad_input


def make_parser():
    return protocol.job_parser("isheep_engine generate", __doc__)


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
    """A row's prompt token ids: raw text as is, a conversation through the tokenizer's chat template."""
    if req.prompt is not None:
        return tokenizer(req.prompt, add_special_tokens=True)["input_ids"]
    messages = with_system_prompt(req.messages or [], system_prompt)
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def with_system_prompt(messages: list[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    """The system_prompt rule: put first in conversations that have no system turn of their own."""
    if system_prompt is not None and not any(m["role"] == "system" for m in messages):
        return [{"role": "system", "content": system_prompt}] + messages
    return messages


def batch_seed(seed: int, ids: list[str]) -> int:
    digest = hashlib.sha256(("%d\x1e" % seed + "\x1f".join(ids)).encode()).hexdigest()
    return int(digest[:15], 16)


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    if not stop:
        return text, False
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class PartialWriter:
    """Appends finished rows to OUTPUT.partial and reports progress.

    add() writes and flushes a row; commit() fsyncs and sends a progress event when rows were added since the
    last one, at most once per ``interval`` seconds unless forced."""

    def __init__(self, path: str, done: dict[str, dict[str, Any]], total: int, started: float,
                 interval: float = 0.25):
        self.done = done  # id -> row, the partial's rows included
        self.total = total
        self.new_tokens = 0  # generated by this run
        self._started = started
        self._interval = interval
        self._last = -math.inf
        self._dirty = False
        self._fh = open(path, "a", encoding="utf-8")

    def __enter__(self) -> "PartialWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._dirty:
                self._fh.flush()
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()

    def add(self, row: dict[str, Any]) -> None:
        self.done[row["id"]] = row
        self.new_tokens += row["new_tokens"]
        self._fh.write(dumps_row(row))
        self._fh.flush()
        self._dirty = True

    def commit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last < self._interval):
            return
        os.fsync(self._fh.fileno())
        self._dirty = False
        self._last = now
        protocol.progress(done=len(self.done), total=self.total, new_tokens=self.new_tokens,
                          elapsed_s=round(now - self._started, 3))


def make_row(req: Request, text: str, prompt_tokens: int, new_tokens: int, finish_reason: str) -> dict[str, Any]:
    return {"id": req.id, "text": text, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
            "finish_reason": finish_reason}


class TransformersBackend:
    """Generation with plain Hugging Face transformers, in batches of similar prompt length."""

    def __init__(self, spec: dict[str, Any]):
        from transformers import CompileConfig, GenerationConfig

        device = resolve_device(spec["device"])
        dtype = resolve_dtype(spec["dtype"], device)
        self.cache, self.compile = resolve_cache(spec["cache"], spec["compile"], device)
        setup_threads(device)
        protocol.progress(stage="loading")
        self.spec = spec
        self.device = device
        self.tokenizer = load_tokenizer(spec["model"], padding_side="left")
        self.model = load_causal_lm(spec["model"], device, dtype)
        self.eos_ids = eos_token_ids(getattr(self.model, "generation_config", None), self.tokenizer)
        self.pad_id = int(self.tokenizer.pad_token_id)
        # Start from a bare generation config so that only the spec's sampling settings apply (no model
        # defaults such as top_k or repetition_penalty sneaking in).
        extra: dict[str, Any] = {}
        if self.cache == "static":
            extra["cache_implementation"] = "static"
            if self.compile:
                compile_config = CompileConfig() if device == "cuda" else CompileConfig(mode="default")
                if device != "cuda":
                    compile_config._compile_all_devices = True  # transformers compiles on CUDA only unless told
                extra["compile_config"] = compile_config
            else:
                extra["disable_compile"] = True
        self.model.generation_config = GenerationConfig(
            bos_token_id=self.tokenizer.bos_token_id, eos_token_id=self.eos_ids, pad_token_id=self.pad_id, **extra
        )

    def run(self, requests: list[Request], sink: PartialWriter) -> float:
        """Generates the rows not in sink.done; returns the seconds spent generating."""
        spec, sampling = self.spec, self.spec["sampling"]
        for req in requests:
            req.ids = render_ids(self.tokenizer, req, spec["system_prompt"])
        order = sorted(requests, key=lambda r: (-len(r.ids or []), r.index))
        bs = spec["batch_size"]
        if self.cache == "static" and order:
            # One cache size for the whole run (the longest prompt's bucket + max_new_tokens): the cache, and so
            # the compiled decode graph, are the same for every batch.
            self.model.generation_config.max_cache_len = (bucket_width(len(order[0].ids or []))
                                                          + sampling["max_new_tokens"])
        gen_time = 0.0
        for batch in (order[i:i + bs] for i in range(0, len(order), bs)):
            if all(r.id in sink.done for r in batch):
                continue
            t0 = time.monotonic()
            outs = self.generate([r.ids or [] for r in batch], sampling,
                                 batch_seed(sampling["seed"], [r.id for r in batch]), spec["stop"])
            gen_time += time.monotonic() - t0
            for req, o in zip(batch, outs):
                if req.id not in sink.done:  # else kept from the earlier run
                    sink.add(make_row(req, o["text"], len(req.ids or []), o["new_tokens"], o["finish_reason"]))
            sink.commit(force=True)
        return gen_time

    def generate(self, prompts: list[list[int]], sampling: dict[str, Any], seed: int,
                 stop: list[str] | None) -> list[dict[str, Any]]:
        import torch

        rows = len(prompts)
        width = max(len(p) for p in prompts)
        if self.cache == "static":  # fixed shapes, so that compiled graphs are reused across batches
            width = bucket_width(width)
            prompts = prompts + [prompts[0]] * (bucket_rows(rows, self.spec["batch_size"]) - rows)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            input_ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attention[i, width - len(p):] = 1
        kwargs: dict[str, Any] = {"max_new_tokens": sampling["max_new_tokens"]}
        if sampling["temperature"] > 0:
            kwargs.update(do_sample=True, temperature=sampling["temperature"], top_p=sampling["top_p"], top_k=0)
        else:
            kwargs.update(do_sample=False)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device), **kwargs
            )
        gen = out[:rows, width:].tolist()
        eos = set(self.eos_ids)
        results = []
        for tokens in gen:
            end, hit_eos = len(tokens), False
            for j, t in enumerate(tokens):
                if t in eos:
                    end, hit_eos = j, True
                    break
            if not hit_eos:
                while end > 0 and tokens[end - 1] == self.pad_id:
                    end -= 1  # rows stopped by a stop string are padded to the batch's length
            new_tokens = end + 1 if hit_eos else end
            text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, stop)
            if hit_eos or stopped or new_tokens < sampling["max_new_tokens"]:
                finish = "stop"
            else:
                finish = "length"
            results.append({"text": text, "new_tokens": new_tokens, "finish_reason": finish})
        return results


def partial_path(output: str) -> str:
    return output + ".partial"


def lock_path(output: str) -> str:
    return output + ".lock"


def meta_path(path: str) -> str:
    """Where the record of what made ``path`` (OUTPUT or OUTPUT.partial) is kept."""
    return path + ".meta.json"


def load_partial(path: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Rows already generated by an earlier run; a torn last line (crash mid-write) is cut off the file."""
    done: dict[str, dict[str, Any]] = {}
    if not os.path.exists(path):
        return done
    good_end = 0
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # no newline: torn write
        line = data[pos:nl]
        try:
            row = json.loads(line.decode("utf-8"))
            ok = isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("text"), str)
        except (UnicodeDecodeError, ValueError):
            ok = False
        if not ok:
            break
        if row["id"] in wanted:
            done[row["id"]] = row
        pos = good_end = nl + 1
    if good_end < len(data):
        print(f"generate: cutting a torn tail of {len(data) - good_end} bytes off {path}", file=sys.stderr)
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
    return done


def make_backend(spec: dict[str, Any]):
    backend = choose_backend(spec["backend"], spec["device"])
    if backend == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(spec)
    if backend == "vllm":
        from .vllm_backend import VLLMBackend, check_vllm_usable

        check_vllm_usable()
        return VLLMBackend(spec)
    return TransformersBackend(spec)


# ---------------------------------------------------------------- what the rows are made from

FINGERPRINT_VERSION = 1  # raise it when an engine change makes other rows from the same made_from


def made_from(spec: dict[str, Any]) -> dict[str, Any]:
    """Everything a row's text depends on (the fingerprint's contents): rows made from the same are the same
    rows, so they may be reused; anything else makes other rows.

    Always: the input's bytes, sampling (seed included), stop, system_prompt and the backend it comes to. Then:
      openai: the server's base_url and model (the API key is no part of it: it does not change the answers;
        neither do concurrency, timeouts or retries). Each row carries its own seed.
      vllm: the model folder's identity (identity.model_identity) and dtype. Each row is sampled with its own
        seed from (sampling.seed, id), so batch_size and the scheduling do not change it.
      transformers: the model's identity, plus what decides a row's random draws: batch_size (a batch's seed is
        derived from the ids of all its rows, see batch_seed, and batches are cut batch_size rows at a time),
        the cache (a static one pads a batch's rows to a power of two, which changes the draws), the device (CPU
        and CUDA draw different numbers from the same seed) and the dtype. compile is left out: the same
        computation, compiled or not.
    """
    inputs: dict[str, Any] = {
        "version": FINGERPRINT_VERSION, "input_sha256": file_sha256(spec["input"]), "sampling": spec["sampling"],
        "stop": spec["stop"], "system_prompt": spec["system_prompt"],
        "backend": choose_backend(spec["backend"], spec["device"]),
    }
    if inputs["backend"] == "openai":
        inputs["endpoint"] = {"base_url": spec["endpoint"]["base_url"], "model": spec["endpoint"]["model"]}
        return inputs
    inputs.update(model=model_identity(spec["model"]), dtype=spec["dtype"])
    if inputs["backend"] == "transformers":
        device = resolve_device(spec["device"])
        inputs.update(device=device, dtype=str(resolve_dtype(spec["dtype"], device)).replace("torch.", ""),
                      cache=resolve_cache(spec["cache"], spec["compile"], device)[0], batch_size=spec["batch_size"])
    return inputs


def read_meta(path: str) -> dict[str, Any] | None:
    """The record beside ``path``, or None when there is none (or it is torn)."""
    try:
        with open(meta_path(path), encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def write_meta(path: str, inputs: dict[str, Any], **extra: Any) -> None:
    write_json_atomic(meta_path(path), {"fingerprint": digest(inputs), "made_from": inputs, **extra})


def stale_reason(meta: dict[str, Any] | None, inputs: dict[str, Any]) -> str | None:
    """Why rows recorded by ``meta`` are not rows of ``inputs``; None when they are."""
    if meta is None:
        return "no record of what it was made from (an older engine's, or the record is lost)"
    if meta.get("fingerprint") == digest(inputs):
        return None
    old = meta.get("made_from") if isinstance(meta.get("made_from"), dict) else {}
    changed = sorted(k for k in set(old) | set(inputs) if old.get(k) != inputs.get(k))
    return "made from a different " + ", ".join(changed) if changed else "its fingerprint differs"


def set_aside(path: str, stage: str, reason: str) -> str:
    """Move a stale file and its record to PATH.stale-<UTC time> (+ .meta.json), never over anything: what it
    holds stays on disk for whoever wants it. Says so on stderr and in a progress event."""
    target = stale_name(path, lambda t: os.path.lexists(t) or os.path.lexists(meta_path(t)))
    if os.path.exists(meta_path(path)):  # the record first: a file left without one is stale next time too
        os.rename(meta_path(path), meta_path(target))
    if os.path.exists(path):
        os.rename(path, target)
    fsync_dir(os.path.dirname(path) or ".")
    print(f"generate: {stage} {path} ({reason}); moved to {target}", file=sys.stderr)
    protocol.progress(stage=stage, reason=reason, path=path, moved_to=target)
    return target


def reusable_output(output: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """OUTPUT's record when OUTPUT is complete and was made from ``inputs``: its record names the same
    fingerprint and the file's sha256 is the one recorded when it was written."""
    meta = read_meta(output)
    if not os.path.isfile(output) or stale_reason(meta, inputs) is not None:
        return None
    complete = isinstance(meta.get("rows"), int) and meta.get("sha256") == file_sha256(output)
    return meta if complete else None


def resume_partial(ppath: str, inputs: dict[str, Any], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The partial's rows when it was made from ``inputs``; else it is set aside, and a fresh partial is begun
    with its record (written before the partial's first row)."""
    if os.path.exists(ppath):
        reason = stale_reason(read_meta(ppath), inputs)
        if reason is None:
            return load_partial(ppath, wanted)
        set_aside(ppath, "discarded stale partial", reason)
    write_meta(ppath, inputs)
    return {}


def remove_with_meta(path: str) -> None:
    """The file, then its record (a record left alone is harmless: it is rewritten before it is trusted)."""
    for p in (path, meta_path(path)):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def run(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    check_backend(spec)
    out = spec["output"]
    own_files = (out, partial_path(out), lock_path(out), meta_path(out), meta_path(partial_path(out)))
    if spec["input"] in own_files or out in (partial_path(spec["input"]), meta_path(spec["input"])):
        raise BadInput("output must differ from input")
    requests = parse_rows(spec["input"])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with exclusive_lock(lock_path(out)):  # one job at a time on OUTPUT, OUTPUT.partial and their records
        return _run_locked(spec, requests, started)


def _run_locked(spec: dict[str, Any], requests: list[Request], started: float) -> dict[str, Any]:
    output, ppath = spec["output"], partial_path(spec["output"])
    inputs = made_from(spec)
    done_before = reusable_output(output, inputs)
    if done_before is not None:
        if os.path.exists(ppath) and stale_reason(read_meta(ppath), inputs) is None:
            remove_with_meta(ppath)  # a crash came between OUTPUT's rename and the partial's removal
        return {"output": output, "rows": done_before["rows"], "new_tokens": 0, "tokens_per_s": 0.0,
                "elapsed_s": round(time.monotonic() - started, 3), "reused": True}

    backend = make_backend(spec)  # first, so that a model that does not load leaves every file as it was
    if os.path.exists(output):
        set_aside(output, "discarded stale output", stale_reason(read_meta(output), inputs) or
                  "its sha256 is not the one recorded when it was written")
    total = len(requests)
    done = resume_partial(ppath, inputs, {r.id for r in requests})
    if done:
        protocol.progress(done=len(done), total=total, new_tokens=0, elapsed_s=round(time.monotonic() - started, 3),
                          resumed=len(done))
    with PartialWriter(ppath, done, total, started) as sink:
        gen_time = backend.run(requests, sink)

    rows = [done[r.id] for r in requests]
    # OUTPUT's record is written before OUTPUT is renamed into place: a crash in between leaves a record
    # without its file (OUTPUT was set aside above), never a file taken as complete without being so.
    write_jsonl_atomic(output, rows, before_rename=lambda tmp: write_meta(
        output, inputs, rows=total, new_tokens=sum(r["new_tokens"] for r in rows), sha256=file_sha256(tmp),
        written_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    remove_with_meta(ppath)
    return {
        "output": output,
        "rows": total,
        "new_tokens": sink.new_tokens,
        "tokens_per_s": round(sink.new_tokens / gen_time, 2) if gen_time > 0 else 0.0,
        "elapsed_s": round(time.monotonic() - started, 3),
        "reused": False,
    }


def main(argv: list[str] | None = None) -> int:
    def job(args):
        quiet_libraries()
        spec = load_spec(args.spec, SPEC)
        protocol.result(**run(spec))

    return protocol.run_job(job, make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
