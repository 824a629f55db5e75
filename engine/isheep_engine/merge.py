"""train's weights into a model folder: the weights of a checkpoint (the best one), the LoRA adapter merged into the
base weights in the base model's dtype, and the folder written whole (temporary folder + rename) with its marker."""

from __future__ import annotations

import os
from typing import Any

from .files import staged_dir, write_json_atomic


def load_checkpoint_weights(model: Any, checkpoint: str, spec: dict[str, Any], train_dtype: Any):
    if spec["method"] == "lora":
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(os.path.join(checkpoint, "adapter_model.safetensors")))
        return model
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=train_dtype)


def merge_adapter(model: Any, spec: dict[str, Any], base_dtype: Any, train_dtype: Any):
    """Merge the adapter into the base weights, in the dtype the base model is stored in."""
    if train_dtype == base_dtype:
        return model.merge_and_unload()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter_dir = os.path.join(spec["work_dir"], "adapter")
    model.save_pretrained(adapter_dir)
    device = next(model.parameters()).device
    del model
    base = AutoModelForCausalLM.from_pretrained(spec["base_model"], dtype=base_dtype).to(device)
    return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()


def write_model(output: str, model: Any, tokenizer: Any, marker_name: str, marker: dict[str, Any]) -> None:
    """The model folder at ``output``: safetensors weights, the tokenizer (left padding, as generation wants it),
    and the marker, written last inside the temporary folder."""
    with staged_dir(output) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(tmp)
        write_json_atomic(os.path.join(tmp, marker_name), marker)
