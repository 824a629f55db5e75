"""The transformers backend of generate (backend.Backend): plain Hugging Face transformers, in batches of similar
prompt length, on CPU or CUDA. How "cache" and "compile" apply, and why batches are padded to fixed shapes with a
static cache, is in generate.py's docstring.

Each batch is seeded from (sampling.seed, the ids of its rows) (rows.batch_seed), and batches are cut from the rows
sorted by prompt length, batch_size at a time, so a resumed run writes the same rows as an uninterrupted one on
the same device: a batch all of whose rows are already done is skipped, one partly done is generated again and
only its missing rows are kept.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from . import protocol, resident
from .backend import Sink
from .decode import decode
from .models import eos_token_ids, load_causal_lm, load_tokenizer, resolve_device, resolve_dtype, setup_threads
from .protocol import BadInput
from .rows import Request, batch_seed, cut_at_stop, make_row, render_ids, top_entries

Cache = Literal["auto", "dynamic", "static"]  # a spec's "cache"
PROMPT_BUCKET = 64  # with a static cache, prompts are left-padded to a multiple of this many tokens
MIN_SHARED_PREFIX = 32  # fewer shared tokens than this are not worth a prefill of their own
PREFIX_CACHE_ENV = "ISHEEP_ENGINE_PREFIX_CACHE"  # "0": every prompt is prefilled whole


def shared_prefix(prompts: list[list[int]]) -> int:
    """How many leading tokens every prompt shares, leaving each at least one token of its own (the first
    generation step needs one); 0 below MIN_SHARED_PREFIX or for fewer than two prompts."""
    if len(prompts) < 2:
        return 0
    n, first = min(len(p) for p in prompts) - 1, prompts[0]
    for p in prompts[1:]:
        i = 0
        while i < n and p[i] == first[i]:
            i += 1
        n = i
    return n if n >= MIN_SHARED_PREFIX else 0


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


class TransformersBackend:
    """Generation with plain Hugging Face transformers, in batches of similar prompt length."""

    def __init__(self, spec: dict[str, Any]):
        from transformers import CompileConfig, GenerationConfig

        device = resolve_device(spec["device"])
        dtype = resolve_dtype(spec["dtype"], device)
        self.cache, self.compile = resolve_cache(spec["cache"], spec["compile"], device)
        setup_threads(device)
        self.spec = spec
        self.device = device
        self.prefix_len, self.prefix_cache = 0, None  # the job's shared prompt prefix, found by run()

        def load():
            protocol.progress(stage="loading")
            return load_tokenizer(spec["model"], padding_side="left"), load_causal_lm(spec["model"], device, dtype)

        # Kept loaded for the next job on the same model when this process is a resident engine (serve.py).
        self.tokenizer, self.model = resident.get(
            resident.key_of("transformers", spec["model"], device, dtype=str(dtype)), load)
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

    def run(self, requests: list[Request], sink: Sink) -> float:
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
        # Prompts that all begin alike (a grading prompt's criteria and examples, a judge's template) have their
        # shared beginning prefilled once for the job, and each batch starts from a copy of its KV cache: on CPU,
        # where prefill is compute-bound, that removes most of the work of such stages. Dynamic cache only.
        self.prefix_len, self.prefix_cache = 0, None
        if self.cache == "dynamic" and os.environ.get(PREFIX_CACHE_ENV, "1") != "0":
            self.prefix_len = shared_prefix([r.ids or [] for r in requests if r.id not in sink.done])
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
                    sink.add(make_row(req, o["text"], len(req.ids or []), o["new_tokens"], o["finish_reason"],
                                      o.get("top_logprobs")))
            sink.commit(force=True)
        return gen_time

    def _prefix_cache_for(self, prefix: list[int], rows: int):
        """A fresh copy, for ``rows`` rows, of the KV cache of the job's shared prefix (prefilled at the first call)."""
        import copy

        import torch
        from transformers import DynamicCache

        if self.prefix_cache is None:
            cache = DynamicCache(config=self.model.config)
            with torch.inference_mode():
                self.model(input_ids=torch.tensor([prefix], dtype=torch.long, device=self.device),
                           past_key_values=cache, use_cache=True)
            self.prefix_cache = cache
        with torch.inference_mode():
            cache = copy.deepcopy(self.prefix_cache)
            cache.batch_repeat_interleave(rows)
        return cache

    def generate(self, prompts: list[list[int]], sampling: dict[str, Any], seed: int,
                 stop: list[str] | None) -> list[dict[str, Any]]:
        import torch

        rows = len(prompts)
        width = max(len(p) for p in prompts)
        if self.cache == "static":  # fixed shapes, so that compiled graphs are reused across batches
            width = bucket_width(width)
            prompts = prompts + [prompts[0]] * (bucket_rows(rows, self.spec["batch_size"]) - rows)
        kwargs: dict[str, Any] = {"max_new_tokens": sampling["max_new_tokens"]}
        shared = self.prefix_len
        if shared and all(len(p) > shared and p[:shared] == prompts[0][:shared] for p in prompts):
            # The shared prefix, then each row's own tokens left-padded after it: [prefix | pad… | own tokens]. The
            # positions come from the attention mask, so every row's own tokens sit right after the prefix.
            input_ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
            attention = torch.zeros((rows, width), dtype=torch.long)
            input_ids[:, :shared] = torch.tensor(prompts[0][:shared], dtype=torch.long)
            attention[:, :shared] = 1
            for i, p in enumerate(prompts):
                input_ids[i, width - len(p) + shared:] = torch.tensor(p[shared:], dtype=torch.long)
                attention[i, width - len(p) + shared:] = 1
            kwargs["past_key_values"] = self._prefix_cache_for(prompts[0][:shared], rows)
        else:
            input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
            attention = torch.zeros((len(prompts), width), dtype=torch.long)
            for i, p in enumerate(prompts):
                input_ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
                attention[i, width - len(p):] = 1
        top_n = self.spec.get("top_logprobs")
        torch.manual_seed(seed)
        if self.cache == "dynamic":
            # Our decode loop (decode.py): generate's model calls and sampling, with finished rows dropped.
            from transformers import DynamicCache

            past_len = shared if "past_key_values" in kwargs else 0
            cache = kwargs["past_key_values"] if past_len else DynamicCache(config=self.model.config)
            stopped = None
            if stop:
                def stopped(tokens: list[int]) -> bool:
                    return cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), stop)[1]
            gen, first_logits = decode(
                self.model, input_ids[:, past_len:].to(self.device), attention.to(self.device), cache,
                past_len=past_len, max_new_tokens=sampling["max_new_tokens"], temperature=sampling["temperature"],
                top_p=sampling["top_p"], eos_ids=self.eos_ids, stopped=stopped, want_first_logits=bool(top_n))
        else:
            gen, first_logits = self._hf_generate(input_ids, attention, kwargs, sampling, stop, bool(top_n), rows, width)
        first: list[list[dict[str, Any]]] | None = None
        if top_n:
            logprobs = torch.log_softmax(first_logits[:rows].float(), dim=-1)
            values, ids = logprobs.topk(top_n, dim=-1)
            first = [top_entries([(self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(vs, is_)], top_n)
                     for vs, is_ in zip(values.tolist(), ids.tolist())]
        eos = set(self.eos_ids)
        results = []
        for tokens in gen:  # each row's new tokens, ending on its EOS token when it hit one
            hit_eos = bool(tokens) and tokens[-1] in eos
            text = self.tokenizer.decode(tokens[:-1] if hit_eos else tokens, skip_special_tokens=True)
            text, stopped = cut_at_stop(text, stop)
            if hit_eos or stopped or len(tokens) < sampling["max_new_tokens"]:
                finish = "stop"
            else:
                finish = "length"
            results.append({"text": text, "new_tokens": len(tokens), "finish_reason": finish,
                            **({"top_logprobs": first[len(results)]} if first is not None else {})})
        return results

    def _hf_generate(self, input_ids, attention, kwargs: dict[str, Any], sampling: dict[str, Any],
                     stop: list[str] | None, want_logits: bool, rows: int, width: int):
        """Plain ``generate`` (the static-cache path): each row's new tokens, padded rows trimmed of their padding,
        and the raw logits of the first step when asked for."""
        import torch

        if sampling["temperature"] > 0:
            kwargs.update(do_sample=True, temperature=sampling["temperature"], top_p=sampling["top_p"], top_k=0)
        else:
            kwargs.update(do_sample=False)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        if want_logits:
            kwargs.update(output_logits=True, return_dict_in_generate=True)  # the raw logits of each step
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device), **kwargs
            )
        first_logits = None
        if want_logits:
            first_logits, out = out.logits[0], out.sequences
        eos = set(self.eos_ids)
        gen = []
        for tokens in out[:rows, width:].tolist():
            end = next((j + 1 for j, t in enumerate(tokens) if t in eos), None)
            if end is None:
                end = len(tokens)
                while end > 0 and tokens[end - 1] == self.pad_id:
                    end -= 1  # rows stopped by a stop string are padded to the batch's length
            gen.append(tokens[:end])
        return gen, first_logits
