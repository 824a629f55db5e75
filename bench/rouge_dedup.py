#!/usr/bin/env python3
"""The reference for bench/rouge-dedup.ts: greedy ROUGE-L dedup with Google's rouge-score, as the
self-instruct / Stanford Alpaca / I-SHEEP code does it.

For each instruction in file order, ROUGE-L F1 (RougeScorer(['rougeL'], use_stemmer=False)) is computed
against EVERY instruction kept so far (all pairs, no pruning, no early exit, as the original code does);
the instruction is kept when the maximum is <= threshold (dropped when > threshold, 0.7 in the paper).

  python rouge_dedup.py --input FILE.jsonl [--n N] [--style alpaca|self-instruct]
                        [--parallel none|pool|sharded] [--workers W] [--out FILE.json]
  python rouge_dedup.py --pairs PAIRS.json [--out FILE.json]

--style
  alpaca         tokenize each instruction once, then rouge_scorer._score_lcs(new_tokens, kept_tokens)
                 (stanford_alpaca/generate_instruction.py). Same scores, less work. Default.
  self-instruct  scorer.score(new, kept) on the raw strings, which re-tokenizes both sides for every
                 pair (self_instruct/bootstrap_instructions.py).
--parallel
  none     one process (default when --workers is 1).
  pool     multiprocessing.Pool(W).map over the kept list for every candidate, as both original
           scripts do (the kept list is pickled to the workers for every candidate).
  sharded  W long-lived worker processes, each holding a round-robin share of the kept list; the
           candidate is sent to all, each returns the max over its share. Same work, far less IPC.

--input: JSONL lines {"id": ..., "instruction": ...}; the first N are used.
Output (stdout, or --out): {"kept": [ids], "seconds": wall time of the dedup loop (worker start-up
included, interpreter start and file reading not), "cpu_seconds": CPU time of this process and its
workers over the loop, "pairs": F1 computations done, ...}.

--pairs: a JSON list of [target, prediction]; outputs [[precision, recall, fmeasure], ...] of
scorer.score(target, prediction)['rougeL'] (floats written with repr, so they round-trip exactly).
"""
import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from functools import partial

from rouge_score import rouge_scorer

SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def tokenize(text):
    return SCORER._tokenizer.tokenize(text)


def f1_alpaca(new_tokens, kept_tokens):
    return rouge_scorer._score_lcs(new_tokens, kept_tokens).fmeasure


def f1_self_instruct(new_text, kept_text):
    return SCORER.score(new_text, kept_text)["rougeL"].fmeasure


class Progress:
    def __init__(self, total, quiet):
        self.total, self.quiet = total, quiet
        self.start = time.perf_counter()
        self.next_report = self.start + 10

    def tick(self, done, kept):
        if self.quiet:
            return
        now = time.perf_counter()
        if now < self.next_report:
            return
        self.next_report = now + 15
        # Pairs grow with the square of the position (at a steady keep rate), so scale by that.
        elapsed = now - self.start
        eta = elapsed * (self.total**2 - done**2) / max(done**2, 1)
        print(f"[rouge_dedup] {done}/{self.total} done, {kept} kept, {elapsed:.0f} s, ~{eta:.0f} s left",
              file=sys.stderr, flush=True)


def dedup_serial(texts, threshold, style, progress):
    kept_ids, kept_items, pairs = [], [], 0
    for i, text in enumerate(texts):
        if style == "alpaca":
            item = tokenize(text)
            scores = [f1_alpaca(item, other) for other in kept_items]
        else:
            item = text
            scores = [f1_self_instruct(item, other) for other in kept_items]
        pairs += len(kept_items)
        if max(scores, default=0.0) <= threshold:
            kept_ids.append(i)
            kept_items.append(item)
        progress.tick(i + 1, len(kept_ids))
    return kept_ids, pairs


def dedup_pool(texts, threshold, style, workers, progress):
    """Both original scripts: a Pool, and one pool.map over the whole kept list per candidate."""
    kept_ids, kept_items, pairs = [], [], 0
    with mp.Pool(workers) as pool:
        for i, text in enumerate(texts):
            if style == "alpaca":
                item = tokenize(text)
                scores = pool.map(partial(rouge_scorer._score_lcs, item), kept_items) if kept_items else []
                scores = [score.fmeasure for score in scores]
            else:
                item = text
                scores = pool.map(partial(SCORER.score, item), kept_items) if kept_items else []
                scores = [score["rougeL"].fmeasure for score in scores]
            pairs += len(kept_items)
            if max(scores, default=0.0) <= threshold:
                kept_ids.append(i)
                kept_items.append(item)
            progress.tick(i + 1, len(kept_ids))
    return kept_ids, pairs


def shard_worker(conn, style):
    """Holds a share of the kept list; answers ('max', item) with the max F1 over it, ('add', item) silently."""
    items = []
    f1 = f1_alpaca if style == "alpaca" else f1_self_instruct
    while True:
        message = conn.recv()
        kind = message[0]
        if kind == "max":
            item = message[1]
            conn.send(max((f1(item, other) for other in items), default=0.0))
        elif kind == "add":
            items.append(message[1])
        else:
            conn.close()
            return


def dedup_sharded(texts, threshold, style, workers, progress):
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    conns, procs = [], []
    for _ in range(workers):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=shard_worker, args=(child, style), daemon=True)
        proc.start()
        conns.append(parent)
        procs.append(proc)
    kept_ids, pairs = [], 0
    try:
        for i, text in enumerate(texts):
            item = tokenize(text) if style == "alpaca" else text
            best = 0.0
            if kept_ids:
                for conn in conns:
                    conn.send(("max", item))
                best = max(conn.recv() for conn in conns)
            pairs += len(kept_ids)
            if best <= threshold:
                conns[len(kept_ids) % workers].send(("add", item))
                kept_ids.append(i)
            progress.tick(i + 1, len(kept_ids))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        for proc in procs:
            proc.join(timeout=5)
        codes = [proc.exitcode for proc in procs]
        raise RuntimeError(f"a worker process died (exit codes {codes}; a negative code is the signal that killed it)") from None
    for conn in conns:
        conn.send(("stop",))
    for proc in procs:
        proc.join()
    return kept_ids, pairs


def cpu_seconds():
    """User + system CPU time of this process and of its finished (joined) worker processes."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def score_pairs(path):
    with open(path, encoding="utf-8") as f:
        pairs = json.load(f)
    out = []
    for target, prediction in pairs:
        s = SCORER.score(target, prediction)["rougeL"]
        out.append([s.precision, s.recall, s.fmeasure])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input")
    ap.add_argument("--pairs")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--style", choices=["alpaca", "self-instruct"], default="alpaca")
    ap.add_argument("--parallel", choices=["none", "pool", "sharded"], default=None)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    if args.pairs:
        result = score_pairs(args.pairs)
    else:
        if not args.input:
            ap.error("--input or --pairs is required")
        with open(args.input, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if args.n is not None:
            rows = rows[: args.n]
        texts = [row["instruction"] for row in rows]
        parallel = args.parallel or ("none" if args.workers <= 1 else "sharded")
        workers = 1 if parallel == "none" else max(1, args.workers)
        progress = Progress(len(texts), args.quiet)
        start = time.perf_counter()
        cpu_start = cpu_seconds()
        if parallel == "none":
            kept, pairs = dedup_serial(texts, args.threshold, args.style, progress)
        elif parallel == "pool":
            kept, pairs = dedup_pool(texts, args.threshold, args.style, workers, progress)
        else:
            kept, pairs = dedup_sharded(texts, args.threshold, args.style, workers, progress)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start
        result = {
            "n": len(texts),
            "kept": [rows[i]["id"] for i in kept],
            "seconds": seconds,
            "cpu_seconds": cpu,
            "pairs": pairs,
            "style": args.style,
            "parallel": parallel,
            "workers": workers,
            "threshold": args.threshold,
            "python": sys.version.split()[0],
        }
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
