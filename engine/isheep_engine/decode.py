"""A decode loop that drops finished rows from the batch (the transformers backend's dynamic-cache path).

Hugging Face ``generate`` keeps every row of a batch in every decode step until the last row is done: a row that
ended after 20 tokens is still computed, and padded, until the longest one reaches max_new_tokens. On CPU, where a
135M model's decode step is compute-bound (its cost grows with the rows in it), that is most of the work when
lengths differ as much as sampled answers do (the demo's response stage: 55% of the row-steps are wasted). This
loop runs the same model calls as ``generate`` (prefill with logits for the last position only, then one token per
step on a DynamicCache), the same sampling (transformers' own temperature and top-p warpers on float32 logits, then
one multinomial draw per row, or argmax for greedy), and removes finished rows from the batch, the attention mask
and the KV cache (DynamicCache.batch_select_indices) once enough of them are done. Greedy output is the same as
``generate``'s (tested); sampled output is deterministic for a given batch and seed, as before, but is not the same
draw as ``generate``'s, because the random draws of later steps cover fewer rows.

The static-cache path (CUDA graphs want fixed shapes) keeps ``generate``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Drop finished rows once this fraction of the batch's live rows is done (or at least one of them): removing rows
# copies the KV cache once, about what DynamicCache's own per-step concatenation costs, so it is batched.
PRUNE_FRACTION = 1 / 8


def decode(model: Any, input_ids: Any, attention: Any, cache: Any, *, past_len: int, max_new_tokens: int,
           temperature: float, top_p: float, eos_ids: list[int], stopped: Callable[[list[int]], bool] | None = None,
           want_first_logits: bool = False) -> tuple[list[list[int]], Any]:
    """Generates up to max_new_tokens for each row.

    input_ids: [rows, n] the tokens not yet in ``cache`` (left-padded); attention: [rows, past_len + n] the mask of
    everything the rows have seen (the cached prefix included); cache: a DynamicCache holding past_len tokens per
    row (empty for past_len 0). ``stopped(tokens)`` says whether a row's tokens so far hit a stop string.
    Returns each row's new tokens (its EOS token included when it ended on one) and, when asked for, the raw
    float32 logits of the first step ([rows, vocab]), else None.
    """
    import torch
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    rows = input_ids.shape[0]
    device = input_ids.device
    warpers = LogitsProcessorList()
    if temperature > 0:
        if temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(temperature))
        if top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p))
    eos = torch.tensor(sorted(set(eos_ids)) or [-1], device=device)
    out: list[list[int]] = [[] for _ in range(rows)]
    live = list(range(rows))  # the row each position of the batch is
    done = [False] * rows
    # Positions as generate derives them: the count of real tokens before each one.
    position_ids = (attention.long().cumsum(-1) - 1).clamp(min=0)[:, past_len:]
    step_input, cache_len, first_logits = input_ids, past_len, None
    with torch.inference_mode():
        for step in range(max_new_tokens):
            n = step_input.shape[1]
            result = model(input_ids=step_input, attention_mask=attention, position_ids=position_ids,
                           past_key_values=cache, use_cache=True, logits_to_keep=1,
                           cache_position=torch.arange(cache_len, cache_len + n, device=device))
            cache_len += n
            logits = result.logits[:, -1, :].to(dtype=torch.float32)
            if step == 0 and want_first_logits:
                first_logits = logits.clone()
            if temperature > 0:
                scores = warpers(step_input, logits)
                tokens = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
            else:
                tokens = logits.argmax(dim=-1)
            ended = torch.isin(tokens, eos).tolist()
            for pos, (row, token) in enumerate(zip(live, tokens.tolist())):
                if done[row]:
                    continue
                out[row].append(token)
                if ended[pos] or len(out[row]) >= max_new_tokens or (stopped is not None and stopped(out[row])):
                    done[row] = True
            keep = [pos for pos, row in enumerate(live) if not done[row]]
            if not keep:
                break
            if len(live) - len(keep) >= max(1, int(len(live) * PRUNE_FRACTION)):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                attention, tokens = attention[index], tokens[index]
                live = [live[pos] for pos in keep]
            step_input = tokens.unsqueeze(1)
            position_ids = attention.long().sum(-1, keepdim=True)
            attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=1)
    return out, first_logits
