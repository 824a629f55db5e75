"""Loading models and tokenizers, and choosing device, dtype and CPU threads."""

from __future__ import annotations

import os
from typing import Any, Literal

from .protocol import BadInput, ModelLoadError

Dtype = Literal["auto", "float32", "bfloat16", "float16"]  # a spec's "dtype"
Device = Literal["auto", "cpu", "cuda"]  # a spec's "device"


def quiet_libraries() -> None:
    """Keep hub look-ups off (nothing can be downloaded) unless the caller asked otherwise, and logs terse."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput("device 'cuda' was asked for but torch sees no CUDA device")
    return device


def setup_threads(device: str) -> None:
    import torch

    if device == "cpu":
        try:  # torchrun: the ranks on this machine share its cores
            local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        except ValueError:
            local = 1
        torch.set_num_threads(max(1, cpu_count() // local))


def resolve_dtype(dtype: str, device: str):
    """'auto' is float32 on CPU, bfloat16 on CUDA where supported (float16 otherwise)."""
    import torch

    if dtype == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def stored_dtype(model_dir: str):
    """The dtype a model folder's weights are stored in (from config.json), float32 if it does not say."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    dt = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dt, str):
        dt = getattr(torch, dt, None)
    return dt if isinstance(dt, torch.dtype) else torch.float32


def _check_model_dir(model_dir: str) -> None:
    if not os.path.isdir(model_dir):
        raise ModelLoadError(f"model folder {model_dir} does not exist")
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise ModelLoadError(f"model folder {model_dir} has no config.json")


def load_tokenizer(model_dir: str, padding_side: str = "left"):
    from transformers import AutoTokenizer

    _check_model_dir(model_dir)
    try:
        tok = AutoTokenizer.from_pretrained(model_dir)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load tokenizer from {model_dir}: {type(exc).__name__}: {exc}") from exc
    tok.padding_side = padding_side
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ModelLoadError(f"tokenizer in {model_dir} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(model_dir: str, device: str, dtype: Any):
    """Load a causal LM from a local folder onto ``device`` in ``dtype``, in eval mode."""
    from transformers import AutoModelForCausalLM

    _check_model_dir(model_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, low_cpu_mem_usage=True)
    except Exception as exc:  # noqa: BLE001
        from .protocol import classify

        kind, _ = classify(exc)
        if kind == "out_of_memory":
            raise
        raise ModelLoadError(f"cannot load model from {model_dir}: {type(exc).__name__}: {exc}") from exc
    model.to(device)
    model.eval()
    return model


def eos_token_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """Every token that ends a generation: the generation config's eos ids (when there is one) plus the
    tokenizer's eos."""
    ids: list[int] = []
    eos = getattr(generation_config, "eos_token_id", None)
    if isinstance(eos, int):
        ids.append(eos)
    elif isinstance(eos, (list, tuple)):
        ids.extend(int(i) for i in eos)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    return ids


def count_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))
