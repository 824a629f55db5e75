"""generate: batched text generation over a JSONL file of prompts, resumable.

    python -m isheep_engine generate --spec spec.json

spec:
  {"backend": "auto"|"transformers"|"vllm"|"openai",
   "model": DIR, "input": FILE.jsonl, "output": FILE.jsonl,
   "sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 1000, "seed": 1234},
   "batch_size": 16, "device": "auto"|"cpu"|"cuda", "dtype": "auto"|"float32"|"bfloat16"|"float16",
   "cache": "auto"|"dynamic"|"static", "compile": "auto"|true|false,
   "system_prompt": STR|null, "stop": [STR, ...]|null, "top_logprobs": N|null,
   "vllm": {"tensor_parallel_size": null, "gpu_memory_utilization": 0.9, "max_model_len": null,
            "enforce_eager": false},
   "endpoint": {"base_url": "http://host:8000/v1", "model": NAME, "api_key_env": "OPENAI_API_KEY"|null,
                "concurrency": 8, "timeout_s": 120, "max_retries": 5}}
  input and output are required; the rest default to the values shown (backend to "auto",
  system_prompt, stop and api_key_env to null). temperature 0 means greedy decoding.
  backend "auto" (default): "vllm" when the vllm package can be imported and the job runs on CUDA, else
    "transformers".
  Each backend is a module of its own behind backend.Backend: transformers_backend.py, vllm_backend.py,
    openai_backend.py. This module is the job around them: the spec (GenerateSpec), choosing the backend, the
    lock, resume (partial.py: the partial file and the records of what rows were made from), the output.
  backend "transformers": generates locally from the model folder "model" (required); "endpoint" is refused.
  backend "vllm": generates locally from "model" with vLLM: continuous batching, tensor parallel over
    "vllm.tensor_parallel_size" GPUs (null: every GPU the job sees); batch_size, cache and compile
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
  shared prefix (transformers, dynamic cache): when every prompt of the job begins with the same 32 or more tokens
    (a grading prompt's criteria and examples, a judge's template), that beginning is prefilled once and each batch
    starts from a copy of its KV cache, its rows' own tokens left-padded after it; the same tokens as a whole
    prefill up to float noise (a test checks greedy text and log-probabilities). ISHEEP_ENGINE_PREFIX_CACHE=0: off.
  resident engine: the same job also runs inside `python -m isheep_engine serve` (serve.py), which keeps the loaded
    model for the next job on it (resident.py); its files, lock and resume are exactly as here.

input rows:  {"id": STR, "prompt": STR}                 raw text completion, no chat template
             {"id": STR, "messages": [{"role", "content"}, ...]}   rendered with the chat template
             (system_prompt, when given, is put first in "messages" rows that have no system turn)
             (openai: "prompt" rows go to POST {base_url}/completions, "messages" rows to
             POST {base_url}/chat/completions, where the server applies its chat template)
output rows, in input order:
  {"id", "text", "prompt_tokens", "new_tokens", "finish_reason": "stop"|"length"}
  with "top_logprobs": N (1-20), also "top_logprobs": [{"token": STR, "logprob": F}, ...]: the N most likely
  FIRST generated tokens and their log-probabilities under the model (before sampling settings apply: the raw
  next-token distribution; openai: what the server returns for logprobs/top_logprobs), for judges read by
  their first token's distribution (AlpacaEval 2.0's weighted annotator)
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

import os
import sys
import time
import urllib.parse
from typing import Annotated, Any, Literal

from pydantic import Field

from . import protocol
from .backend import Backend
from .files import exclusive_lock, write_jsonl_atomic
from .identity import file_sha256, model_identity
from .models import Device, Dtype, quiet_libraries, resolve_device, resolve_dtype
from .partial import (PartialWriter, lock_path, meta_path, partial_path, read_meta, remove_with_meta, resume_partial,
                      reusable_output, set_aside, stale_reason, write_meta)
from .protocol import BadInput
from .rows import Request, parse_rows
from .spec import AbsolutePath, SpecModel, check, explained, load_spec
from .transformers_backend import Cache, TransformersBackend, resolve_cache


def _http_url(v: str) -> bool:
    parts = urllib.parse.urlsplit(v)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class SamplingSpec(SpecModel):
    temperature: Annotated[float, Field(ge=0)] = 1.0  # 0: greedy
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    max_new_tokens: Annotated[int, Field(gt=0)] = 1000
    seed: int = 1234


class VLLMSpec(SpecModel):
    tensor_parallel_size: Annotated[int, Field(gt=0)] | None = None  # null: every GPU the job sees
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    max_model_len: Annotated[int, Field(gt=0)] | None = None
    enforce_eager: bool = False


class EndpointSpec(SpecModel):
    base_url: Annotated[str, check(_http_url, "must be an http:// or https:// URL with a host, such as "
                                              "http://localhost:8000/v1"),
                        Field(json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"})]
    model: Annotated[str, check(str.strip, "must be a non-empty string"), Field(json_schema_extra={"pattern": "\\S"})]
    api_key_env: Annotated[str, check(lambda v: v and "=" not in v, "must be an environment variable name"),
                           Field(json_schema_extra={"pattern": "^[^=]+$"})] | None = None
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    timeout_s: Annotated[float, Field(gt=0)] = 120.0
    max_retries: Annotated[int, Field(ge=0, le=100)] = 5


class GenerateSpec(SpecModel):
    """The spec of a generate job (see the generate module's docstring)."""

    backend: Literal["auto", "transformers", "vllm", "openai"] = "auto"
    model: AbsolutePath | None = None  # required by the local backends: see check_backend
    input: AbsolutePath
    output: AbsolutePath
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    batch_size: Annotated[int, Field(gt=0)] = 16
    device: Device = "auto"
    dtype: Dtype = "auto"
    cache: Cache = "auto"
    compile: Annotated[Literal["auto"] | bool, explained('must be "auto", true or false')] = "auto"
    system_prompt: str | None = None
    stop: Annotated[list[Annotated[str, Field(min_length=1)]] | None,
                    explained("must be a list of non-empty strings")] = None
    top_logprobs: Annotated[int, Field(ge=1, le=20)] | None = None
    vllm: VLLMSpec = Field(default_factory=VLLMSpec)
    endpoint: EndpointSpec | None = None  # required by the openai backend, refused by the others: see check_backend


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


def make_backend(spec: dict[str, Any]) -> Backend:
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
        derived from the ids of all its rows, see rows.batch_seed, and batches are cut batch_size rows at a time),
        the cache (a static one pads a batch's rows to a power of two, which changes the draws), the device (CPU
        and CUDA draw different numbers from the same seed) and the dtype. compile is left out: the same
        computation, compiled or not.
    """
    inputs: dict[str, Any] = {
        "version": FINGERPRINT_VERSION, "input_sha256": file_sha256(spec["input"]), "sampling": spec["sampling"],
        "stop": spec["stop"], "system_prompt": spec["system_prompt"],
        "backend": choose_backend(spec["backend"], spec["device"]),
    }
    if spec.get("top_logprobs") is not None:  # absent otherwise: the fingerprints of jobs from before it stay
        inputs["top_logprobs"] = spec["top_logprobs"]
    if inputs["backend"] == "openai":
        inputs["endpoint"] = {"base_url": spec["endpoint"]["base_url"], "model": spec["endpoint"]["model"]}
        return inputs
    inputs.update(model=model_identity(spec["model"]), dtype=spec["dtype"])
    if inputs["backend"] == "transformers":
        device = resolve_device(spec["device"])
        inputs.update(device=device, dtype=str(resolve_dtype(spec["dtype"], device)).replace("torch.", ""),
                      cache=resolve_cache(spec["cache"], spec["compile"], device)[0], batch_size=spec["batch_size"])
    return inputs


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
    # From here on the job generates: say so at once (done 0/N), not only when the first batch is finished (minutes on
    # a CPU), so that a live status never reads "loading" for the whole of a job.
    protocol.progress(stage="generating", done=len(done), total=total, new_tokens=0,
                      elapsed_s=round(time.monotonic() - started, 3), **({"resumed": len(done)} if done else {}))
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


def run_spec_file(path: str) -> dict[str, Any]:
    """The job from its spec file: what the result event says (also called by a resident engine, serve.py)."""
    quiet_libraries()
    return run(load_spec(path, GenerateSpec))


def main(argv: list[str] | None = None) -> int:
    def job(args):
        protocol.result(**run_spec_file(args.spec))

    return protocol.run_job(job, make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
