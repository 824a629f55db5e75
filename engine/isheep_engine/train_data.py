"""train's data: the rows of the data file, each turned into token ids with labels (the loss covers the assistant
turn only), the shuffle / cap / validation split, and the dataset and padding Trainer is given. The rules are in
train.py's docstring."""

from __future__ import annotations

import random
from typing import Any

from .files import read_jsonl
from .protocol import BadInput, ModelLoadError

IGNORE_INDEX = -100  # the label of a token the loss leaves out


def build_example(tokenizer: Any, system_prompt: str | None, instruction: str, input_text: str, response: str,
                  cutoff_len: int) -> dict[str, list[int]] | None:
    """Token ids and labels for one pair; labels are IGNORE_INDEX everywhere but the assistant turn.

    The prompt (system + user + the assistant header) and the assistant turn are tokenized separately, as
    at generation time, where the prompt is tokenized alone and the answer follows it token by token.
    Returns None when cutting to cutoff_len leaves no response token.
    """
    # The same user text the model was asked with (src/stages/responses.ts taskText): instruction, newline, input.
    user = instruction + ("\n" + input_text if input_text else "")
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt is not None else [])
    messages.append({"role": "user", "content": user})
    prompt_text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
    if not full_text.startswith(prompt_text):
        raise ModelLoadError("the chat template renders the prompt differently with and without the answer; "
                             "cannot tell the answer's tokens apart")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full_text[len(prompt_text):], add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + answer_ids)[:cutoff_len]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:cutoff_len]
    if all(x == IGNORE_INDEX for x in labels):
        return None
    return {"input_ids": input_ids, "labels": labels, "attention_mask": [1] * len(input_ids)}


def read_rows(path: str) -> tuple[list[dict[str, str]], int]:
    """Valid rows and the number of unusable (empty) ones; a malformed row is bad_input."""
    rows, skipped = [], 0
    for lineno, row in read_jsonl(path):
        where = f"{path} line {lineno}"
        for key in ("instruction", "response"):
            if not isinstance(row.get(key), str):
                raise BadInput(f"{where}: \"{key}\" must be a string")
        inp = row.get("input")
        if inp is not None and not isinstance(inp, str):
            raise BadInput(f"{where}: \"input\" must be a string")
        if "id" in row and not isinstance(row["id"], (str, int)):
            raise BadInput(f"{where}: \"id\" must be a string")
        if not row["instruction"].strip() or not row["response"].strip():
            skipped += 1
            continue
        rows.append({"id": str(row.get("id", lineno)), "instruction": row["instruction"], "input": inp or "",
                     "response": row["response"]})
    return rows, skipped


def split(items: list[Any], seed: int, max_samples: int | None, val_fraction: float) -> tuple[list[Any], list[Any]]:
    items = list(items)
    random.Random(seed).shuffle(items)
    if max_samples is not None:
        items = items[:max_samples]
    n = len(items)
    # floor(n * fraction): a handful of kept pairs (a small model's iteration) all go to training rather than
    # half of them to a validation set of one; from 1/fraction rows on, the paper's split applies.
    n_val = min(max(n - 1, 0), int(n * val_fraction + 1e-9))
    return items[n_val:], items[:n_val]


class ListDataset:
    def __init__(self, items: list[dict[str, list[int]]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.items[i]


class PadCollator:
    """Right-pads input_ids (pad id), labels (IGNORE_INDEX) and attention_mask (0)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict[str, list[int]]]):
        import torch

        width = max(len(f["input_ids"]) for f in features)

        def pad(key: str, value: int):
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features], dtype=torch.long)

        return {"input_ids": pad("input_ids", self.pad_id), "labels": pad("labels", IGNORE_INDEX),
                "attention_mask": pad("attention_mask", 0)}
