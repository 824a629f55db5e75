import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import ENGINE, engine_env, run_job, write_partial
from isheep_engine.rows import batch_seed, cut_at_stop
from isheep_engine.transformers_backend import bucket_rows, bucket_width, resolve_cache
from isheep_engine.protocol import BadInput

ROWS = [
    {"id": "raw", "prompt": "Here is a list of fruits:\n1. Apple\n2."},
    {"id": "chat1", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
    {"id": "chat2", "messages": [{"role": "system", "content": "You answer briefly."},
                                 {"role": "user", "content": "Name a color."}]},
]


def _spec(model_dir, tmp_path, **over):
    spec = {"model": model_dir, "input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out" / "gen.jsonl"),
            "sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 6, "seed": 7},
            "batch_size": 2, "device": "cpu", "system_prompt": "You are a helpful assistant."}
    spec.update(over)
    return spec


def _write_input(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))


def _read(path):
    return [json.loads(line) for line in open(path)]


@pytest.fixture(scope="module")
def fresh(model_dir, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gen_fresh")
    _write_input(tmp_path)
    spec = _spec(model_dir, tmp_path)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    return spec, run


def test_generate_rows_in_input_order(fresh):
    spec, run = fresh
    assert run.events[0] == {"event": "progress", "stage": "loading"}
    # generating is said as soon as the model is loaded, before any batch is done
    generating = next(e for e in run.events if e.get("stage") == "generating")
    assert generating["done"] == 0 and generating["total"] == len(ROWS) and "resumed" not in generating
    res = run.last
    assert res["event"] == "result" and res["output"] == spec["output"] and res["rows"] == 3
    rows = _read(spec["output"])
    assert [r["id"] for r in rows] == ["raw", "chat1", "chat2"]
    for r in rows:
        assert set(r) == {"id", "text", "prompt_tokens", "new_tokens", "finish_reason"}
        assert r["text"].strip(), r
        assert 0 < r["new_tokens"] <= 6 and r["prompt_tokens"] > 0
        assert r["finish_reason"] in ("stop", "length")
    assert res["new_tokens"] == sum(r["new_tokens"] for r in rows) and res["tokens_per_s"] > 0
    batches = [e for e in run.progress() if "done" in e and e.get("stage") != "generating"]
    assert [e["done"] for e in batches] == [2, 3] and all(e["total"] == 3 for e in batches)
    assert not os.path.exists(spec["output"] + ".partial")


def test_resume_skips_done_rows_and_matches_fresh_run(fresh, tmp_path):
    spec0, run0 = fresh
    fresh_rows = _read(spec0["output"])
    _write_input(tmp_path)
    spec = _spec(spec0["model"], tmp_path)
    (tmp_path / "out").mkdir()
    seeded = fresh_rows[1]
    write_partial(spec, json.dumps(seeded) + "\n" + '{"id": "raw", "te')  # plus a torn line from a crash
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    assert _read(spec["output"]) == fresh_rows
    assert run.last["new_tokens"] == run0.last["new_tokens"] - seeded["new_tokens"]
    assert any(e.get("resumed") == 1 for e in run.progress())
    assert not (tmp_path / "out" / "gen.jsonl.partial").exists()


def _discards(run, stage="discarded stale partial"):
    return [e for e in run.progress() if e.get("stage") == stage]


def _assert_made_afresh(run, spec, fresh_run, stale_text):
    """The run generated every row itself, the rows are the undisturbed run's, and the stale partial is kept
    aside, as it was."""
    assert run.rc == 0, run
    assert _read(spec["output"]) == _read(fresh_run.last["output"])
    assert run.last["new_tokens"] == fresh_run.last["new_tokens"] and run.last["reused"] is False
    assert not any("resumed" in e for e in run.progress())
    [event] = _discards(run)
    assert event["path"] == spec["output"] + ".partial" and ".partial.stale-" in event["moved_to"]
    assert open(event["moved_to"]).read() == stale_text
    assert "discarded stale partial" in run.stderr
    assert not os.path.exists(spec["output"] + ".partial")
    return event


def test_partial_without_a_record_is_set_aside_not_reused(fresh, tmp_path):
    spec0, run0 = fresh
    _write_input(tmp_path)
    spec = _spec(spec0["model"], tmp_path)
    (tmp_path / "out").mkdir()
    stale = json.dumps({**_read(spec0["output"])[1], "text": "written by an older engine"}) + "\n"
    (tmp_path / "out" / "gen.jsonl.partial").write_text(stale)  # an older engine's partial: no record beside it
    run = run_job("generate", spec, tmp_path / "spec.json")
    event = _assert_made_afresh(run, spec, run0, stale)
    assert "no record" in event["reason"]


@pytest.mark.parametrize("change", [{"input_sha256": "0" * 64}, {"model": "another model's identity"},
                                    {"sampling": {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 6, "seed": 8}}],
                         ids=["input", "model", "seed"])
def test_partial_made_from_something_else_is_set_aside_not_reused(fresh, tmp_path, change):
    spec0, run0 = fresh
    _write_input(tmp_path)
    spec = _spec(spec0["model"], tmp_path)
    stale = json.dumps({**_read(spec0["output"])[1], "text": "made from something else"}) + "\n"
    write_partial(spec, stale, **change)
    run = run_job("generate", spec, tmp_path / "spec.json")
    event = _assert_made_afresh(run, spec, run0, stale)
    assert event["reason"] == f"made from a different {next(iter(change))}", event
    assert os.path.exists(event["moved_to"] + ".meta.json")  # its record went along


def _kill_after_first_batch(spec, spec_path):
    """Start generate and SIGKILL its process group once its first batch is in the partial (a worker dying)."""
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "isheep_engine", "generate", "--spec", str(spec_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=engine_env(),
                            cwd=str(ENGINE), start_new_session=True)
    for line in proc.stdout:
        if json.loads(line).get("done"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_partial_of_a_killed_run_with_other_sampling_is_set_aside(fresh, tmp_path):
    """A folder reused by a new spec after a run of another was killed: its rows are not taken."""
    spec0, run0 = fresh
    _write_input(tmp_path)
    other = _spec(spec0["model"], tmp_path, batch_size=1,
                  sampling={"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 40, "seed": 7})
    _kill_after_first_batch(other, tmp_path / "other.json")
    stale = (tmp_path / "out" / "gen.jsonl.partial").read_text()
    stale_rows, fresh_rows = [json.loads(line) for line in stale.splitlines()], {r["id"]: r for r in _read(spec0["output"])}
    assert stale_rows and all(r != fresh_rows[r["id"]] for r in stale_rows)  # else this would test nothing

    spec = _spec(spec0["model"], tmp_path)
    run = run_job("generate", spec, tmp_path / "spec.json")
    event = _assert_made_afresh(run, spec, run0, stale)
    assert event["reason"] == "made from a different batch_size, sampling", event


def _same_stat_unloadable_copy(model_dir, target):
    """A folder whose files have the model's names, sizes and mtimes (so the same identity) but hold only zeros:
    any attempt to load it fails."""
    for root, _, names in os.walk(model_dir):
        for name in names:
            src = os.path.join(root, name)
            dst = os.path.join(target, os.path.relpath(src, model_dir))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            st = os.stat(src)
            with open(dst, "wb") as fh:
                fh.truncate(st.st_size)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_complete_output_of_the_same_spec_is_reused_without_loading_the_model(fresh, tmp_path):
    spec0, run0 = fresh
    _write_input(tmp_path)
    spec = _spec(spec0["model"], tmp_path)
    first = run_job("generate", spec, tmp_path / "spec.json")
    assert first.rc == 0 and first.last["reused"] is False, first
    rows, before = _read(spec["output"]), os.stat(spec["output"])

    fake = tmp_path / "unloadable"
    _same_stat_unloadable_copy(spec0["model"], fake)
    probe = run_job("generate", _spec(str(fake), tmp_path, output=str(tmp_path / "probe.jsonl")),
                    tmp_path / "probe.json")
    assert probe.rc != 0 and probe.last["kind"] == "model_load", probe  # the fake really does not load

    again = run_job("generate", {**spec, "model": str(fake)}, tmp_path / "spec.json")
    assert again.rc == 0, again
    assert again.last["reused"] is True and again.last["new_tokens"] == 0 and again.last["rows"] == 3, again
    assert not any(e.get("stage") == "loading" for e in again.progress())
    assert _read(spec["output"]) == rows and os.stat(spec["output"]).st_mtime_ns == before.st_mtime_ns

    # another seed: the finished output is set aside (kept), and made again
    reseeded = {**spec, "sampling": {**spec["sampling"], "seed": 8}}
    third = run_job("generate", reseeded, tmp_path / "spec.json")
    assert third.rc == 0 and third.last["reused"] is False, third
    [event] = _discards(third, "discarded stale output")
    assert event["reason"] == "made from a different sampling" and ".stale-" in event["moved_to"]
    assert _read(event["moved_to"]) == rows and os.path.exists(event["moved_to"] + ".meta.json")
    assert _read(spec["output"]) != rows and third.last["new_tokens"] > 0


def test_greedy_with_stop_string(model_dir, tmp_path):
    _write_input(tmp_path)
    spec = _spec(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 12}, stop=["\n"], batch_size=3)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    rows = _read(spec["output"])
    assert all("\n" not in r["text"] for r in rows)
    assert "paris" in rows[1]["text"].lower(), rows[1]


def test_cut_at_stop():
    assert cut_at_stop("abc\n\nd###e", ["###", "\n\n"]) == ("abc", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert cut_at_stop("abc", None) == ("abc", False)


def test_batch_seed_depends_on_seed_and_ids():
    assert batch_seed(1, ["a", "b"]) == batch_seed(1, ["a", "b"])
    assert len({batch_seed(1, ["a", "b"]), batch_seed(2, ["a", "b"]), batch_seed(1, ["a"]),
                batch_seed(1, ["ab"])}) == 4


def test_cache_and_compile_resolution():
    assert resolve_cache("auto", "auto", "cpu") == ("dynamic", False)  # CPU keeps plain generate
    assert resolve_cache("auto", "auto", "cuda") == ("static", True)
    assert resolve_cache("static", "auto", "cpu") == ("static", False)
    assert resolve_cache("static", "auto", "cuda") == ("static", True)
    assert resolve_cache("dynamic", "auto", "cuda") == ("dynamic", False)
    assert resolve_cache("auto", True, "cpu") == ("static", True)
    assert resolve_cache("auto", False, "cuda") == ("static", False)
    with pytest.raises(BadInput):
        resolve_cache("dynamic", True, "cuda")


def test_shape_buckets():
    assert [bucket_width(n) for n in (1, 63, 64, 65, 200)] == [64, 64, 64, 128, 256]
    assert [bucket_rows(n, 256) for n in (1, 2, 3, 5, 64, 65, 200, 256)] == [1, 2, 4, 8, 64, 128, 256, 256]
    assert [bucket_rows(n, 100) for n in (3, 64, 65, 100)] == [4, 64, 100, 100]


def test_compile_needs_a_static_cache(tmp_path):
    _write_input(tmp_path)
    spec = _spec(str(tmp_path / "no-model"), tmp_path, cache="dynamic", compile=True)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 2 and run.last["kind"] == "bad_input" and "static" in run.last["message"], run


def test_static_cache_matches_dynamic_greedy(model_dir, tmp_path):
    """Four prompts of different lengths in one batch: the static cache (padded to a 64-token bucket, rows to a
    power of two) gives the same greedy tokens as plain generate."""
    rows = ROWS + [{"id": "long", "prompt": "Once upon a time, in a small village near the mountains, there "
                                            "lived an old man who"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outs = {}
    for cache in ("dynamic", "static"):
        spec = _spec(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 12}, batch_size=4,
                     cache=cache, compile=False, output=str(tmp_path / f"out-{cache}.jsonl"))
        run = run_job("generate", spec, tmp_path / f"spec-{cache}.json")
        assert run.rc == 0, run
        outs[cache] = _read(spec["output"])
    assert len({r["prompt_tokens"] for r in outs["dynamic"]}) == 4
    assert outs["static"] == outs["dynamic"]
    assert all(r["new_tokens"] > 0 for r in outs["static"])


def test_top_logprobs_are_the_models_first_token_distribution(model_dir, tmp_path):
    """top_logprobs: each row's N most likely first tokens, as one forward pass over the rendered prompt gives them
    (batched with left padding here, so equal up to float noise); the greedy text starts with the first of them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from isheep_engine.rows import parse_rows, render_ids

    _write_input(tmp_path)
    spec = _spec(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 3}, top_logprobs=5, batch_size=3)
    run = run_job("generate", spec, tmp_path / "spec.json")
    assert run.rc == 0, run
    rows = _read(spec["output"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    for req, row in zip(parse_rows(spec["input"]), rows):
        ids = render_ids(tokenizer, req, spec["system_prompt"])
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)
        values, top = logprobs.topk(5)
        got = row["top_logprobs"]
        assert [e["token"] for e in got] == [tokenizer.decode([i]) for i in top.tolist()], (row["id"], got)
        assert [e["logprob"] for e in got] == pytest.approx(values.tolist(), abs=2e-3)
        assert all(a["logprob"] >= b["logprob"] for a, b in zip(got, got[1:]))
        assert row["text"].lstrip().startswith(got[0]["token"].strip()), row
    # Without it the rows are as before, and so is the fingerprint of a job that does not ask for it.
    plain = _spec(model_dir, tmp_path, output=str(tmp_path / "plain.jsonl"), sampling={"temperature": 0, "max_new_tokens": 3}, batch_size=3)
    assert run_job("generate", plain, tmp_path / "plain.spec.json").rc == 0
    assert all("top_logprobs" not in r for r in _read(plain["output"]))
    assert [r["text"] for r in _read(plain["output"])] == [r["text"] for r in rows]


def test_a_shared_prompt_prefix_is_prefilled_once_and_changes_nothing(model_dir, tmp_path):
    """Rows that begin alike (as grading and judge prompts do) reuse one prefill of their shared beginning: the same
    greedy text and first-token log-probabilities as when every prompt is prefilled whole."""
    from isheep_engine.transformers_backend import MIN_SHARED_PREFIX, shared_prefix

    assert shared_prefix([[1] * 40 + [2], [1] * 40 + [3, 4]]) == 40
    assert shared_prefix([[1] * 40, [1] * 40]) == 39  # every row keeps a token of its own
    assert shared_prefix([[1] * (MIN_SHARED_PREFIX - 1) + [2], [1] * 40]) == 0
    assert shared_prefix([[1] * 40]) == 0
    preamble = "You will rate the quality of a response to an instruction, on a scale from 1 to 10. " * 4
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"{preamble}Now rate this: {'very ' * i}good."}]}
            for i in range(5)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outs = {}
    for mode in ("1", "0"):
        spec = _spec(model_dir, tmp_path, sampling={"temperature": 0, "max_new_tokens": 8}, batch_size=2, top_logprobs=3,
                     output=str(tmp_path / f"out-{mode}.jsonl"))
        run = run_job("generate", spec, tmp_path / f"spec-{mode}.json", env={"ISHEEP_ENGINE_PREFIX_CACHE": mode})
        assert run.rc == 0, run
        outs[mode] = _read(spec["output"])
    for cached, whole in zip(outs["1"], outs["0"]):
        assert cached["text"] == whole["text"] and cached["prompt_tokens"] == whole["prompt_tokens"]
        assert [e["token"] for e in cached["top_logprobs"]] == [e["token"] for e in whole["top_logprobs"]]
        assert [e["logprob"] for e in cached["top_logprobs"]] == pytest.approx([e["logprob"] for e in whole["top_logprobs"]], abs=1e-3)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("prefix", [False, True])
def test_decode_loop_matches_generate_greedy(model_dir, monkeypatch, grouped, prefix):
    """The dynamic-cache decode loop (decode.py) gives generate's greedy tokens, row for row, for a batch whose
    answers end at very different steps (finished rows are dropped on the way) and whose prompts differ in length:
    prefilled as one padded batch or in groups of similar length (forced here: one group per row), from no cache or
    from a cached shared prefix laid out as the backend lays it out ([prefix | padding | own tokens])."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

    from isheep_engine import decode as decode_module
    from isheep_engine.models import eos_token_ids

    if grouped:
        monkeypatch.setattr(decode_module, "MIN_GROUP_POSITIONS", 0)
        monkeypatch.setattr(decode_module, "GROUP_PADDING", 1.0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    questions = ["Answer with one word: is the sky blue?", "Say hi.", "Write a long story about a dragon and a knight.",
                 "What is 2+2? Reply with the number only.", "List ten animals, one per line.",
                 "Name a color. " + "Take your time and think about all the colors you know before you answer. " * 6]
    texts = [tokenizer.apply_chat_template([{"role": "system", "content": "You are a helpful assistant."},
                                            {"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
             for q in questions]
    prompts = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    shared = 0
    while all(len(p) > shared + 1 and p[shared] == prompts[0][shared] for p in prompts):
        shared += 1
    assert shared > 5 and len({len(p) for p in prompts}) == len(prompts)
    rows, width = len(prompts), max(len(p) for p in prompts)
    input_ids = torch.full((rows, width), tokenizer.pad_token_id)
    attention = torch.zeros((rows, width), dtype=torch.long)
    past_len = shared if prefix else 0
    attention[:, :past_len] = 1
    input_ids[:, :past_len] = torch.tensor(prompts[0][:past_len])
    for i, p in enumerate(prompts):
        input_ids[i, width - len(p) + past_len:] = torch.tensor(p[past_len:])
        attention[i, width - len(p) + past_len:] = 1
    cache = DynamicCache(config=model.config)
    if prefix:
        with torch.inference_mode():
            model(input_ids=torch.tensor([prompts[0][:shared]]), past_key_values=cache, use_cache=True)
        cache.batch_repeat_interleave(rows)
    eos = eos_token_ids(model.generation_config, tokenizer)
    plain_ids = torch.full((rows, width), tokenizer.pad_token_id)
    plain_mask = torch.zeros((rows, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        plain_ids[i, width - len(p):] = torch.tensor(p)
        plain_mask[i, width - len(p):] = 1
    with torch.inference_mode():
        ref = model.generate(input_ids=plain_ids, attention_mask=plain_mask, max_new_tokens=40, do_sample=False,
                             eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)[:, width:].tolist()
    selects = []
    original = DynamicCache.batch_select_indices
    monkeypatch.setattr(DynamicCache, "batch_select_indices",
                        lambda self, index: (selects.append(len(index)), original(self, index))[1])
    got, _ = decode_module.decode(model, input_ids[:, past_len:], attention, cache, past_len=past_len,
                                  max_new_tokens=40, temperature=0, top_p=1, eos_ids=eos)
    for row, ref_row in zip(got, ref):
        end = next((j + 1 for j, t in enumerate(ref_row) if t in eos), len(ref_row))
        assert row == ref_row[:end]
    assert min(len(r) for r in got) < 10 and max(len(r) for r in got) == 40, [len(r) for r in got]
    assert selects and selects[-1] < rows, selects  # rows were dropped on the way


def test_prefill_groups():
    from isheep_engine.decode import prefill_groups

    # Longest first; a row joins the group before it while that group's padding stays within GROUP_PADDING, or
    # while the group is under MIN_GROUP_POSITIONS positions (310 + 300 join; 20 after [310, 300] would triple it).
    assert prefill_groups([600, 590, 300, 310, 20]) == [[0, 1], [3, 2], [4]]
    assert prefill_groups([40] * 8) == [list(range(8))]
    assert prefill_groups([60, 10, 10, 10]) == [[0, 1, 2, 3]]  # 240 positions: not worth a second pass


def test_a_conversation_ending_on_an_assistant_turn_is_continued(model_dir):
    """An assistant prefill: the last assistant turn is left open for the model to continue (no end-of-turn, no new
    assistant header); a conversation ending on a user turn opens a new assistant turn as before."""
    from transformers import AutoTokenizer

    from isheep_engine.rows import Request, render_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    user = [{"role": "user", "content": "Rate the answer."}]
    opened = tokenizer.decode(render_ids(tokenizer, Request(0, "a", messages=user), "You judge."))
    prefilled = tokenizer.decode(render_ids(tokenizer, Request(0, "b", messages=user + [{"role": "assistant", "content": "Rating: [["}]), "You judge."))
    assert prefilled == opened + "Rating: [["


def test_reserved_layer_matches_dynamic_layer():
    """A ReservedLayer holds what a DynamicLayer would after the same updates, row drops and crops, also when the
    updates outrun the room left for them (it then grows)."""
    import torch
    from transformers.cache_utils import DynamicLayer

    from isheep_engine.decode import reserve

    torch.manual_seed(0)
    plain, reserved = DynamicLayer(), DynamicLayer()
    first = torch.randn(4, 3, 5, 8), torch.randn(4, 3, 5, 8)
    plain.update(*first)
    reserved.update(*first)

    class Cache:  # reserve() reads only .layers
        layers = [reserved]

    layer = reserve(Cache, room=2).layers[0]
    assert type(layer).__name__ == "ReservedLayer" and layer.get_seq_length() == 5
    for step in range(6):  # 6 one-token steps into room for 2
        kv = torch.randn(layer.keys.shape[0], 3, 1, 8), torch.randn(layer.keys.shape[0], 3, 1, 8)
        got, want = layer.update(*kv), plain.update(*kv)
        assert all(torch.equal(g, w) for g, w in zip(got, want))
        if step == 2:
            index = torch.tensor([0, 2, 3])
            layer.batch_select_indices(index)
            plain.batch_select_indices(index)
    layer.crop(-3)
    plain.crop(-3)
    assert layer.get_seq_length() == plain.get_seq_length() == 8
    assert torch.equal(layer.keys, plain.keys) and torch.equal(layer.values, plain.values)


@pytest.mark.parametrize("candidates", [1024, 4])
def test_nucleus_sample_draws_from_top_p_warpers_nucleus(monkeypatch, candidates):
    """nucleus_sample draws only tokens TopPLogitsWarper keeps, each about as often as its share of the nucleus
    (rows peaked and flat; with 4 candidates the flat rows take the whole-vocabulary path), and is seeded."""
    import torch
    from transformers import TopPLogitsWarper

    from isheep_engine import decode as decode_module

    monkeypatch.setattr(decode_module, "TOP_P_CANDIDATES", candidates)
    torch.manual_seed(1)
    logits = torch.randn(4, 50) * torch.tensor([[6.0], [3.0], [0.5], [0.1]])
    temperature, top_p = 0.8, 0.9
    warped = TopPLogitsWarper(top_p)(None, logits / temperature)
    kept = torch.isfinite(warped)
    share = torch.softmax(warped, dim=-1)
    counts = torch.zeros_like(share)
    torch.manual_seed(7)
    for _ in range(4000):
        tokens = decode_module.nucleus_sample(logits, temperature, top_p)
        counts[torch.arange(4), tokens] += 1
    assert bool((counts[~kept] == 0).all())
    assert torch.allclose(counts / 4000, share, atol=0.03)
    torch.manual_seed(3)
    again = decode_module.nucleus_sample(logits, temperature, top_p)
    torch.manual_seed(3)
    assert torch.equal(again, decode_module.nucleus_sample(logits, temperature, top_p))
