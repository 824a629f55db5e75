"""The vLLM backend of generate (backend.Backend): offline continuous batching, tensor parallel over the job's GPUs.

Chosen by "backend": "vllm", or by "auto" when the vllm package can be imported and the job runs on CUDA. vLLM
pins its own torch and transformers, so it lives in an engine environment of its own (engine/requirements-vllm.lock,
built by `ISHEEP_ENGINE=vllm node scripts/setup.mjs`); the default environment has no vLLM and "auto" falls back to the
transformers backend.

What stays the same as the transformers backend, so that the two are interchangeable in a run:
  - prompts are rendered to token ids by the same tokenizer and chat template (rows.render_ids) and
    handed to vLLM as token ids, so vLLM's own templating never applies;
  - generation stops at every eos id of the model's generation config and tokenizer (eos_token_ids), and at the
    spec's stop strings, which are cut from the text;
  - the output rows, the partial file and the progress events are the same.
What differs: each row is sampled with its own seed, derived from (sampling.seed, its id), so a row's text does
not depend on the rows scheduled beside it, and a resumed job writes the same rows as an uninterrupted one.

All pending rows are queued at once (vLLM schedules them as one continuous batch, which is where its speed comes
from) and each row is written to the partial file as soon as it finishes, so a crash loses only rows in flight.
"""

from __future__ import annotations

import importlib.util
import os
import time
from typing import Any

from . import protocol, resident
from .backend import Sink
from .models import eos_token_ids, load_tokenizer
from .rows import Request, batch_seed, make_row, render_ids, top_entries


def vllm_installed() -> bool:
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):  # a broken install is no install
        return False


def check_vllm_usable() -> None:
    """vLLM is installed and sees a device it can run on (without one it fails deep inside, with "Device string
    must not be empty")."""
    if not vllm_installed():
        raise protocol.BadInput('backend "vllm": the vllm package is not installed in this engine environment '
                                '(build one with `ISHEEP_ENGINE=vllm node scripts/setup.mjs`)')
    from vllm.platforms import current_platform

    if not current_platform.device_type:
        raise protocol.BadInput('backend "vllm": vLLM finds no device it can run on here (no GPU visible to this '
                                'job?); use "backend": "auto" or "transformers" on this machine')


def tensor_parallel_size(requested: int | None) -> int:
    """The GPUs one model is split over: the spec's number, else every GPU this job sees (the slot's
    CUDA_VISIBLE_DEVICES)."""
    if requested is not None:
        return requested
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip():
        return len([d for d in visible.split(",") if d.strip()])
    import torch

    return max(1, torch.cuda.device_count())


def row_seed(seed: int, row_id: str) -> int:
    return batch_seed(seed, [row_id])


class VLLMBackend:
    """Generation with vLLM's LLMEngine, driven request by request so finished rows are saved as they come."""

    def __init__(self, spec: dict[str, Any]):
        from transformers import GenerationConfig
        from vllm import LLM

        self.spec = spec
        options = spec["vllm"]
        kwargs: dict[str, Any] = {
            "model": spec["model"],
            "tensor_parallel_size": tensor_parallel_size(options["tensor_parallel_size"]),
            "dtype": spec["dtype"],
            "seed": spec["sampling"]["seed"],
            "gpu_memory_utilization": options["gpu_memory_utilization"],
            "enforce_eager": options["enforce_eager"],
            # Only the spec's sampling settings apply: no defaults from the model's generation_config.json.
            "generation_config": "vllm",
        }
        if options["max_model_len"] is not None:
            kwargs["max_model_len"] = options["max_model_len"]

        def load():
            protocol.progress(stage="loading")
            return load_tokenizer(spec["model"], padding_side="left"), LLM(**kwargs)

        # Kept for the next job on the same model in a resident engine (serve.py); the engine's seed is no part of
        # the key: every row is sampled with a seed of its own.
        settings = {k: v for k, v in kwargs.items() if k not in ("model", "seed")}
        self.tokenizer, self.llm = resident.get(
            resident.key_of("vllm", spec["model"], "cuda", **settings), load)
        try:
            generation_config = GenerationConfig.from_pretrained(spec["model"])
        except OSError:  # a model folder without generation_config.json
            generation_config = None
        self.eos_ids = eos_token_ids(generation_config, self.tokenizer)

    def sampling_params(self, seed: int) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        sampling = self.spec["sampling"]
        greedy = sampling["temperature"] == 0
        return SamplingParams(
            n=1,
            temperature=0.0 if greedy else sampling["temperature"],
            top_p=1.0 if greedy else sampling["top_p"],
            top_k=0,  # no top-k cut, as in the transformers backend
            max_tokens=sampling["max_new_tokens"],
            seed=None if greedy else seed,
            stop=list(self.spec["stop"]) if self.spec["stop"] else None,
            stop_token_ids=list(self.eos_ids),
            skip_special_tokens=True,
            output_kind=RequestOutputKind.FINAL_ONLY,
            # vLLM's logprobs are of the raw next-token distribution by default (logprobs_mode raw_logprobs)
            logprobs=self.spec.get("top_logprobs"),
        )

    def run(self, requests: list[Request], sink: Sink) -> float:
        """Generates the rows not in sink.done; returns the seconds spent generating."""
        spec = self.spec
        engine = self.llm.llm_engine
        pending: dict[str, Request] = {}
        for req in requests:
            if req.id in sink.done:
                continue
            req.ids = render_ids(self.tokenizer, req, spec["system_prompt"])
            key = str(req.index)
            pending[key] = req
            engine.add_request(key, {"prompt_token_ids": req.ids},
                               self.sampling_params(row_seed(spec["sampling"]["seed"], req.id)))
        started = time.monotonic()
        while pending:
            if not engine.has_unfinished_requests():
                raise RuntimeError(f"vLLM finished with {len(pending)} rows unanswered")
            for out in engine.step():
                if not out.finished:
                    continue
                req = pending.pop(out.request_id, None)
                if req is None:
                    raise RuntimeError(f"vLLM answered request {out.request_id!r}, which was not asked")
                done = out.outputs[0]  # vLLM has cut the stop strings off its text already
                finish = "length" if done.finish_reason == "length" else "stop"
                top = None
                if self.spec.get("top_logprobs") and done.logprobs:
                    top = top_entries([(lp.decoded_token or "", lp.logprob) for lp in done.logprobs[0].values()],
                                      self.spec["top_logprobs"])
                sink.add(make_row(req, done.text, len(req.ids or []), len(done.token_ids), finish, top))
            sink.commit()
        sink.commit(force=True)
        return time.monotonic() - started
