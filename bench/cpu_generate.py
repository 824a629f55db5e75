"""The anchors of bench/cpu-generate.ts: plain transformers `generate` and llama.cpp on the same request rows.

    python bench/cpu_generate.py transformers --model DIR --rows FILE --out FILE --batch-sizes 8,16,32 --runs 3 \
        --max-new-tokens 64 --temperature 1.0 --top-p 0.95 --seed 1
    python bench/cpu_generate.py llama --gguf FILE --rows FILE --out FILE --runs 3 ...   (in the llama.cpp venv)
    python bench/cpu_generate.py parity-transformers|parity-llama ... --out FILE        (greedy, row by row)

Rows are the engine's input rows ({"id", "messages"} or {"id", "prompt"}). Neither side uses isheep's code:
transformers renders each row with the tokenizer's own chat template and calls `generate` on batches of rows in
file order, left-padded, as a script written by hand would; llama.cpp (llama-cpp-python's high-level API, one
sequence at a time, which is how a laptop user runs it) renders with the chat template in the GGUF file.
The output is one JSON object: per batch size (or for llama.cpp) the seconds, new tokens and prompt tokens of
each run; for parity, each row's greedy token ids and text.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def read_rows(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cores() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def transformers_runs(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(cores())
    tok = AutoTokenizer.from_pretrained(args.model)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    t0 = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    load_s = time.monotonic() - t0
    rows = read_rows(args.rows)
    prompts = [render(tok, r) for r in rows]
    eos = {tok.eos_token_id, *([model.generation_config.eos_token_id] if isinstance(model.generation_config.eos_token_id, int) else (model.generation_config.eos_token_id or []))}
    sampling = ({"do_sample": True, "temperature": args.temperature, "top_p": args.top_p, "top_k": 0}
                if args.temperature > 0 else {"do_sample": False})
    out: dict = {"load_s": round(load_s, 2), "batches": {}}
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        runs = []
        for run in range(args.runs):
            torch.manual_seed(args.seed + run)
            started, new, prompt_tokens = time.monotonic(), 0, 0
            for i in range(0, len(prompts), bs):
                enc = tok(prompts[i:i + bs], return_tensors="pt", padding=True, add_special_tokens=False)
                prompt_tokens += int(enc.attention_mask.sum())
                with torch.inference_mode():
                    gen = model.generate(**enc, max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id,
                                         **sampling)
                for seq in gen[:, enc.input_ids.shape[1]:].tolist():
                    n = next((j + 1 for j, t in enumerate(seq) if t in eos), len(seq))
                    new += n
            runs.append({"seconds": round(time.monotonic() - started, 3), "new_tokens": new,
                         "prompt_tokens": prompt_tokens})
            print(f"[transformers] batch {bs} run {run + 1}: {new} new tokens in {runs[-1]['seconds']} s", flush=True)
        out["batches"][str(bs)] = runs
    return out


def render(tok, row: dict) -> str:
    if "messages" in row:
        return tok.apply_chat_template(row["messages"], add_generation_prompt=True, tokenize=False)
    return row["prompt"]


def llama(args):
    from llama_cpp import Llama

    t0 = time.monotonic()
    llm = Llama(model_path=args.gguf, n_ctx=4096, n_threads=cores(), n_batch=512, verbose=False, seed=args.seed)
    return llm, round(time.monotonic() - t0, 2)


def llama_one(llm, row: dict, max_tokens: int, temperature: float, top_p: float, seed: int) -> dict:
    if "messages" in row:
        return llm.create_chat_completion(messages=row["messages"], max_tokens=max_tokens, temperature=temperature,
                                          top_p=top_p, top_k=0, seed=seed)
    return llm.create_completion(row["prompt"], max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=0,
                                 seed=seed)


def llama_runs(args) -> dict:
    llm, load_s = llama(args)
    rows = read_rows(args.rows)
    runs = []
    for run in range(args.runs):
        started, new, prompt_tokens = time.monotonic(), 0, 0
        for i, row in enumerate(rows):
            llm.reset()  # no prompt cache carried from the row before: every row is prefilled whole
            res = llama_one(llm, row, args.max_new_tokens, args.temperature, args.top_p, args.seed + run * 1000 + i)
            new += res["usage"]["completion_tokens"]
            prompt_tokens += res["usage"]["prompt_tokens"]
        runs.append({"seconds": round(time.monotonic() - started, 3), "new_tokens": new, "prompt_tokens": prompt_tokens})
        print(f"[llama.cpp] run {run + 1}: {new} new tokens in {runs[-1]['seconds']} s", flush=True)
    return {"load_s": load_s, "runs": runs}


def parity_transformers(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(cores())
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    out = []
    for row in read_rows(args.rows):
        enc = tok(render(tok, row), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        ids = gen[0, enc.input_ids.shape[1]:].tolist()
        out.append({"id": row["id"], "text": tok.decode(ids, skip_special_tokens=True)})
    return {"rows": out}


def parity_llama(args) -> dict:
    llm, _ = llama(args)
    out = []
    for row in read_rows(args.rows):
        llm.reset()
        res = llama_one(llm, row, args.max_new_tokens, 0.0, 1.0, args.seed)
        choice = res["choices"][0]
        out.append({"id": row["id"], "text": choice["message"]["content"] if "message" in choice else choice["text"]})
    return {"rows": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["transformers", "llama", "parity-transformers", "parity-llama"])
    p.add_argument("--model")
    p.add_argument("--gguf")
    p.add_argument("--rows", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-sizes", default="8,16,32")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    result = {"transformers": transformers_runs, "llama": llama_runs, "parity-transformers": parity_transformers,
              "parity-llama": parity_llama}[args.mode](args)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
