"""GPU throughput of raw transformers/peft against the engine's own jobs, next to DESIGN.md's H200 anchors.

    bench/gpu.sh [--smoke] [--big] [--out results.json]

Random weights built from a config (Qwen2 architecture, Qwen1.5-0.5B shapes; with --big also 7B shapes), saved
with a small offline tokenizer (a byte-level BPE trained here on a few lines; its ids are a subset of the
config's vocab) to a temporary model folder. Nothing is downloaded. Measures:
  a) raw new tokens/s: plain `generate` (dynamic cache) and static-cache compiled `generate`, batch 1/64/256,
     prompt 128 tokens, 256 new tokens (min_new_tokens forces the length), after a warm-up call;
  b) the engine's generate job (python -m isheep_engine generate, defaults: on CUDA static cache + compiled
     decode) on the same sizes, three batches per size: "job" is its result's tokens_per_s (compilation
     included), "steady" the rate after the first batch (from its progress events);
  b') where the vllm package is installed (ISHEEP_ENGINE=vllm environment) and on CUDA: the same job with
     "backend": "vllm", at batch 64 and 256 worth of rows (vLLM schedules them as one continuous batch);
  c) LoRA r8 training tokens/s at seq 1024: a raw peft loop against the engine's train job (steady rate from its
     step events), 0.5B at batch 16, and with --big 7B at batch 4.
--smoke: tiny sizes on CPU (2 layers, hidden 256, batch 1/4, 16 new tokens, seq 128); the "static" figures then
run the static cache without compiling (compiling on CPU takes minutes), and the engine job is asked for the
same ("cache": "static", "compile": false).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

ANCHORS = {  # DESIGN.md, one H200, raw transformers 5.17 + peft, random weights
    "plain": {1: 15, 64: 1108, 256: 3694},
    "static": {1: 267, 64: 12813, 256: 23707},
    "lora_0.5b": 51356,
    "lora_7b": 8662,
}
SHAPES = {
    "0.5b": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                 intermediate_size=2816, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
               intermediate_size=11008, vocab_size=151936, tie_word_embeddings=False),
    "smoke": dict(hidden_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                  intermediate_size=704, vocab_size=151936, tie_word_embeddings=True),
}
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORDS = ["".join("bcdfghjklmnpqrstvwxz"[(i // 20 ** k) % 20] + "aeiou"[(i * 7 + k) % 5] for k in range(3))
         for i in range(600)]  # 600 made-up words, one token each once the BPE is trained

results: dict = {"figures": []}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def figure(name: str, value: float, anchor: float | None = None, raw: float | None = None, unit: str = "tok/s",
           **extra) -> None:
    if results.get("smoke"):
        anchor = None  # the anchors are H200 figures at full sizes
    parts = [f"{name:<34} {value:>10,.1f} {unit}"]
    if anchor:
        parts.append(f"anchor {anchor:>8,} ({value / anchor:5.2f}x)")
    if raw:
        parts.append(f"engine/raw {value / raw:4.2f}" + ("" if value / raw >= 0.9 else " (< 0.9)"))
    print("  ".join(parts), flush=True)
    results["figures"].append({"name": name, "value": round(value, 2), "unit": unit, "anchor": anchor,
                               "ratio_to_anchor": round(value / anchor, 3) if anchor else None,
                               "engine_over_raw": round(value / raw, 3) if raw else None, **extra})


# ---------------------------------------------------------------- model folder

def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    lines = [" ".join(WORDS[j:j + 20]) for j in range(0, len(WORDS), 20)] * 10 + ["user assistant system \n"] * 10
    tok.train_from_iterator(lines, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def build_model(shape: str, folder: Path, device: str) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config

    t0 = time.monotonic()
    tok = build_tokenizer()
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, rope_theta=1000000.0,
                         bos_token_id=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         dtype=dtype)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    with torch.no_grad():  # eos and pad never win a greedy step: every row generates its full length
        for tid in (tok.eos_token_id, tok.pad_token_id):
            model.get_output_embeddings().weight[tid].zero_()
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    out = folder / shape
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    log(f"built {shape} random model in {out} ({time.monotonic() - t0:.0f} s)")
    return out


def prompt_text(n_words: int, seed: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(n_words))


# ---------------------------------------------------------------- raw figures

def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def raw_generate(model_dir: Path, device: str, batches: list[int], prompt_len: int, new: int, compile_static: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, CompileConfig

    tok = AutoTokenizer.from_pretrained(model_dir)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    ids = tok(prompt_text(prompt_len * 2, 0))["input_ids"][:prompt_len]
    out = {}
    for mode in ("plain", "static"):
        for b in batches:
            input_ids = torch.tensor([ids] * b, device=device)
            kw = dict(do_sample=False, max_new_tokens=new, min_new_tokens=new, pad_token_id=tok.pad_token_id,
                      attention_mask=torch.ones_like(input_ids))
            if mode == "static":
                kw["cache_implementation"] = "static"
                if compile_static:
                    kw["compile_config"] = CompileConfig()
                else:
                    kw["disable_compile"] = True
            with torch.inference_mode():
                t0 = time.monotonic()
                model.generate(input_ids, **{**kw, "max_new_tokens": new if mode == "static" else 4,
                                             "min_new_tokens": new if mode == "static" else 4})  # warm-up
                warm = time.monotonic() - t0
                sync(device)
                t0 = time.monotonic()
                gen = model.generate(input_ids, **kw)
                sync(device)
                took = time.monotonic() - t0
            made = (gen.shape[1] - len(ids)) * b
            label = "static" + ("+compile" if compile_static else ", no compile")
            figure(f"raw {mode if mode == 'plain' else label} b{b}", made / took, ANCHORS[mode].get(b),
                   seconds=round(took, 2), warmup_s=round(warm, 2))
            out[(mode, b)] = made / took
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def raw_lora(model_dir: Path, device: str, batch: int, seq: int, steps: int, warm: int) -> float:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(10, 1900, (batch, seq), generator=g).to(device)
    t0 = 0.0
    for i in range(warm + steps):
        if i == warm:
            sync(device)
            t0 = time.monotonic()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync(device)
    rate = steps * batch * seq / (time.monotonic() - t0)
    del model, opt
    if device == "cuda":
        torch.cuda.empty_cache()
    return rate


# ---------------------------------------------------------------- engine jobs

def engine_job(job: str, spec: dict, work: Path) -> tuple[list[tuple[float, dict]], float]:
    """Run python -m isheep_engine JOB; returns the events with their arrival times, and the wall time."""
    path = work / f"{job}-{int(time.time() * 1000)}.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ENGINE), "HF_HUB_OFFLINE": "1", "ISHEEP_ENGINE_NO_WATCHDOG": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "isheep_engine", job, "--spec", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append((time.monotonic(), json.loads(line)))
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    if proc.returncode != 0 or not events or events[-1][1]["event"] != "result":
        raise RuntimeError(f"engine {job} failed (rc {proc.returncode}): {events[-1:]}\n{err[-3000:]}")
    return events, time.monotonic() - t0


def engine_generate(model_dir: Path, work: Path, b: int, prompt_len: int, new: int, static_spec: dict) -> dict:
    # ~1.05 tokens a word: a few words short of prompt_len keeps every prompt within one 64-token bucket of it
    rows = [{"id": f"r{i}", "prompt": prompt_text(prompt_len - 10, i)} for i in range(3 * b)]
    inp = work / f"gen-in-{b}.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / f"gen-out-{b}.jsonl"
    spec = {"model": str(model_dir), "input": str(inp), "output": str(out),
            "sampling": {"temperature": 0, "max_new_tokens": new, "seed": 1}, "batch_size": b, **static_spec}
    events, wall = engine_job("generate", spec, work)
    res = events[-1][1]
    batches = [e for _, e in events if "done" in e]
    steady = None
    if len(batches) >= 2:
        steady = ((batches[-1]["new_tokens"] - batches[0]["new_tokens"])
                  / max(1e-9, batches[-1]["elapsed_s"] - batches[0]["elapsed_s"]))
    prompt_tokens = [json.loads(line)["prompt_tokens"] for line in out.read_text().splitlines()]
    out.unlink()
    return {"job": res["tokens_per_s"], "steady": steady, "new_tokens": res["new_tokens"], "wall_s": wall,
            "expected_tokens": 3 * b * new, "prompt_tokens": [min(prompt_tokens), max(prompt_tokens)]}


def engine_train(model_dir: Path, work: Path, batch: int, seq: int, steps: int, warm: int) -> dict:
    n_words = seq + 64  # more than seq tokens once rendered: every example is cut to exactly seq
    rows = [{"id": str(i), "instruction": prompt_text(8, i), "input": "", "response": prompt_text(n_words, i + 1)}
            for i in range(batch * (warm + steps + 1))]
    data = work / f"train-{model_dir.name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / f"trained-{model_dir.name}"
    spec = {"base_model": str(model_dir), "data": str(data), "output": str(out),
            "work_dir": str(work / f"train-work-{model_dir.name}"), "method": "lora",
            "lora": {"r": 8, "alpha": 16, "dropout": 0.05}, "cutoff_len": seq, "per_device_batch_size": batch,
            "gradient_accumulation_steps": 1, "max_steps": warm + steps, "val_fraction": 0.0, "warmup_steps": 0,
            "max_samples": None, "epochs": 1}
    events, wall = engine_job("train", spec, work)
    step_times = [(t, e["step"]) for t, e in events if "loss" in e and "step" in e]
    (t_a, s_a), (t_b, s_b) = step_times[warm - 1], step_times[-1]
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work / f"train-work-{model_dir.name}", ignore_errors=True)
    return {"rate": (s_b - s_a) * batch * seq / max(1e-9, t_b - t_a), "wall_s": wall,
            "train_loss": events[-1][1]["train_loss"]}


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on CPU (a check of this script)")
    ap.add_argument("--big", action="store_true", help="also LoRA training of the 7B shape at batch 4")
    ap.add_argument("--out", help="write all figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary model folders")
    args = ap.parse_args()

    import torch
    import transformers

    device = "cpu" if args.smoke or not torch.cuda.is_available() else "cuda"
    if device == "cpu" and not args.smoke:
        log("no CUDA device: running --smoke sizes")
        args.smoke = True
    if args.smoke:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    batches = [1, 4] if args.smoke else [1, 64, 256]
    new, prompt_len = (16, 128) if args.smoke else (256, 128)
    seq, lora_batch, lora_steps, lora_warm = (128, 2, 3, 1) if args.smoke else (1024, 16, 10, 3)
    shape = "smoke" if args.smoke else "0.5b"
    compile_static = device == "cuda"
    static_spec = {"backend": "transformers"} if device == "cuda" else {"backend": "transformers", "cache": "static",
                                                                        "compile": False}
    results.update(device=torch.cuda.get_device_name(0) if device == "cuda" else "cpu", smoke=args.smoke,
                   torch=torch.__version__, transformers=transformers.__version__, shape=shape)
    print(f"device: {results['device']}  torch {torch.__version__}  transformers {transformers.__version__}  "
          f"shape {shape}  prompt {prompt_len} new {new}", flush=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="isheep-gpu-bench-"))
    try:
        model_dir = build_model(shape, work, device)
        print("-- a) raw generate (new tokens/s)", flush=True)
        raw = raw_generate(model_dir, device, batches, prompt_len, new, compile_static)
        print("-- b) engine generate job (new tokens/s; job = result event, steady = after the first batch)",
              flush=True)
        for b in batches:
            r = engine_generate(model_dir, work, b, prompt_len, new, static_spec)
            note = dict(new_tokens=r["new_tokens"], expected_tokens=r["expected_tokens"],
                        prompt_tokens=r["prompt_tokens"], wall_s=round(r["wall_s"], 1))
            figure(f"engine generate b{b} job", r["job"], ANCHORS["static"].get(b), raw[("static", b)], **note)
            if r["steady"] is not None:
                figure(f"engine generate b{b} steady", r["steady"], ANCHORS["static"].get(b), raw[("static", b)])
        if device == "cuda" and importlib.util.find_spec("vllm") is not None:
            print("-- b') engine generate job, vLLM backend (new tokens/s)", flush=True)
            for b in batches[1:]:
                r = engine_generate(model_dir, work, b, prompt_len, new, {"backend": "vllm"})
                figure(f"engine vllm {3 * b} rows job", r["job"], ANCHORS["static"].get(b), raw[("static", b)],
                       new_tokens=r["new_tokens"], expected_tokens=r["expected_tokens"], wall_s=round(r["wall_s"], 1))
        print(f"-- c) LoRA r8 training (tokens/s, seq {seq})", flush=True)
        rr = raw_lora(model_dir, device, lora_batch, seq, lora_steps, lora_warm)
        figure(f"raw lora {shape} b{lora_batch}", rr, None if args.smoke else ANCHORS["lora_0.5b"])
        er = engine_train(model_dir, work, lora_batch, seq, lora_steps, lora_warm)
        figure(f"engine train {shape} b{lora_batch}", er["rate"], None if args.smoke else ANCHORS["lora_0.5b"], rr,
               wall_s=round(er["wall_s"], 1), train_loss=er["train_loss"])
        if args.big and not args.smoke:
            shutil.rmtree(model_dir, ignore_errors=True)
            big = build_model("7b", work, device)
            rr = raw_lora(big, device, 4, seq, 6, 2)
            figure("raw lora 7b b4", rr, ANCHORS["lora_7b"])
            er = engine_train(big, work, 4, seq, 6, 2)
            figure("engine train 7b b4", er["rate"], ANCHORS["lora_7b"], rr, wall_s=round(er["wall_s"], 1))
    finally:
        results["total_s"] = round(time.monotonic() - started, 1)
        print(f"total {results['total_s']} s", flush=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results, indent=2))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
