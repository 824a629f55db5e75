"""train: supervised fine-tuning (LoRA merged into a full model, or full fine-tuning) on instruction data.

    python -m isheep_engine train --spec spec.json

spec (base_model, data, output and work_dir are required; the rest default to the values shown):
  {"base_model": DIR, "data": FILE.jsonl, "output": DIR, "work_dir": DIR,
   "method": "lora"|"full",
   "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear" | [NAME, ...]},
   "learning_rate": 5e-5, "lr_scheduler": "cosine", "warmup_steps": 20, "epochs": 2,
   "cutoff_len": 1024, "per_device_batch_size": 4, "gradient_accumulation_steps": 4,
   "max_samples": 3000, "val_fraction": 0.1, "seed": 42, "max_steps": null, "save_steps": null,
   "system_prompt": "You are a helpful assistant." (null: no system turn),
   "device": "auto"|"cpu"|"cuda", "precision": "auto"|"bf16"|"fp32"}

data rows: {"id", "instruction", "input", "response"} ("input" may be missing or empty). Each row is
rendered with the base model's chat template (system = system_prompt; user = instruction, plus "\\n" +
input when input is non-empty; assistant = response); the loss covers only the assistant turn's tokens;
examples are cut to cutoff_len tokens. Rows with an empty instruction or response, or whose response is cut
off entirely, are skipped (counted in skipped_samples); none left is bad_input.

Rows are shuffled with seed, capped at max_samples, and floor(val_fraction × n) of them held out (none for
fewer than 1/val_fraction rows; at least one row is always trained on). With a validation set the model is
evaluated at the end of each epoch (and at max_steps) and the weights of the evaluation with the lowest
eval loss are the result.

Checkpoints (work_dir/checkpoints/checkpoint-STEP) are written at the end of each epoch (after its
evaluation) and at max_steps, and with "save_steps": N also every N optimizer steps; the newest two and the
best one are kept.

What is reused when: the fingerprint (train_fingerprint) is the sha256 of the spec together with what its paths
hold now: the data file's sha256 and the base model's identity (identity.model_identity: its files' names,
sizes and mtimes), since the spec holds only their paths. A re-run with the same fingerprint resumes from the
newest complete checkpoint (one cut short by a crash is removed) and ends with the same weights as an
undisturbed run (on the same device and threads); checkpoints of another fingerprint (another spec, or the
same paths holding other data or another base model) are removed and training starts afresh.
One job at a time works in a work_dir: it holds flock on work_dir/.lock (see files.exclusive_lock; a second
job waits up to ISHEEP_ENGINE_LOCK_WAIT_S, default 120 s, then fails with kind crashed). The LoRA adapter is
merged and a full model folder (safetensors, tokenizer, chat template, generation config) written to output
via a temporary folder + rename, its marker (with the fingerprint) inside; when output already holds the result
of the same fingerprint, nothing is trained again (reused: true), and when it holds anything else it is moved to
OUTPUT.stale-<UTC time> ({"stage":"discarded stale output"}) and trained afresh (nothing is overwritten).

events: {"event":"progress","stage":...} ("training" carries resumed_from: the checkpoint's name or null),
        per optimizer step
        {"event":"progress","step":S,"total_steps":T,"loss":L,"lr":LR,"epoch":E}, after each evaluation
        {"event":"progress","step":S,"epoch":E,"eval_loss":V}
result: {"event":"result","output":DIR,"train_loss":L,"eval_loss":V|null,"steps":S,"train_samples":N,
         "val_samples":V,"skipped_samples":K,"elapsed_s":S,"reused":bool}

Several GPUs: run the job under torchrun,
    python -m torch.distributed.run --standalone --nproc_per_node=K -m isheep_engine train --spec spec.json
and Trainer trains with DDP (per_device_batch_size per GPU, so K times the rows per optimizer step). Rank 0
alone holds the work_dir lock, computes the fingerprint (one look at the data file and the base model, sent to
every rank), decides on reuse and resumption, writes the spec copy, the merged output and its marker, and sends
events (protocol.py); the other ranks wait for its decisions (a gloo group) and leave once training is done.
When rank 0 fails before training, the others exit quietly (code 0) and rank 0's error event is the job's.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sys
import time
from typing import Any

from . import protocol
from .files import exclusive_lock, read_jsonl, stale_name, staged_dir, write_json_atomic
from .identity import digest, file_sha256, model_identity
from .models import DEVICES, load_tokenizer, quiet_libraries, resolve_device, setup_threads, stored_dtype
from .protocol import BadInput, ModelLoadError
from .spec import Field, fraction, load_spec, non_negative, obj, path_field, positive

IGNORE_INDEX = -100
MARKER = "isheep-train.json"
SPEC_COPY = "isheep-train-spec.json"
LOCK = ".lock"
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay")


def _targets(v: Any) -> str | None:
    if isinstance(v, str):
        return None if v else "must not be empty"
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return None
    return "must be \"all-linear\" or a non-empty list of module names"


SPEC = {
    "base_model": path_field(),
    "data": path_field(),
    "output": path_field(),
    "work_dir": path_field(),
    "method": Field((str,), "lora", choices=("lora", "full")),
    "lora": obj({
        "r": Field((int,), 8, check=positive),
        "alpha": Field((int, float), 16, check=positive),
        "dropout": Field((float,), 0.05, check=fraction),
        "target_modules": Field((str, list), "all-linear", check=_targets),
    }),
    "learning_rate": Field((float,), 5e-5, check=positive),
    "lr_scheduler": Field((str,), "cosine", choices=SCHEDULERS),
    "warmup_steps": Field((int,), 20, check=non_negative),
    "epochs": Field((int, float), 2, check=positive),
    "cutoff_len": Field((int,), 1024, check=lambda v: None if v >= 8 else "must be >= 8"),
    "per_device_batch_size": Field((int,), 4, check=positive),
    "gradient_accumulation_steps": Field((int,), 4, check=positive),
    "max_samples": Field((int,), 3000, nullable=True, check=positive),
    "val_fraction": Field((float,), 0.1, check=fraction),
    "seed": Field((int,), 42),
    "max_steps": Field((int,), None, nullable=True, check=positive),
    "save_steps": Field((int,), None, nullable=True, check=positive),
    "system_prompt": Field((str,), "You are a helpful assistant.", nullable=True),
    "device": Field((str,), "auto", choices=DEVICES),
    "precision": Field((str,), "auto", choices=("auto", "bf16", "fp32")),
}


def make_parser():
    return protocol.job_parser("isheep_engine train", __doc__)


# ---------------------------------------------------------------- data

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


# ---------------------------------------------------------------- training

def _event_callback():
    from transformers import TrainerCallback

    class EventCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                protocol.progress(step=state.global_step, total_steps=state.max_steps, loss=logs["loss"],
                                  lr=logs.get("learning_rate"), epoch=logs.get("epoch"))
            if "eval_loss" in logs:
                protocol.progress(step=state.global_step, epoch=logs.get("epoch"), eval_loss=logs["eval_loss"])

    return EventCallback()


def _schedule_callback(save_steps: int | None, has_val: bool):
    """Decides when to evaluate and when to checkpoint (it runs after Trainer's DefaultFlowCallback).

    At each epoch's last optimizer step and at max_steps: evaluate (with a validation set), then save; with
    save_steps also save every save_steps steps. Evaluating at the epoch's last step rather than in on_epoch_end
    keeps a save of that step from ever coming before its evaluation: a checkpoint whose step ends an epoch
    always holds that epoch's eval loss, so resuming from it cannot skip an evaluation.
    Best-model selection: Trainer records best_metric/best_model_checkpoint itself (metric_for_best_model is
    set) and keeps that checkpoint out of rotation; run() loads its weights at the end.
    """
    from transformers import TrainerCallback

    class ScheduleCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            boundary = float(state.epoch or 0).is_integer() or state.global_step >= state.max_steps
            control.should_evaluate = has_val and boundary
            control.should_save = boundary or bool(save_steps and state.global_step % save_steps == 0)
            return control

        def on_epoch_end(self, args, state, control, **kwargs):
            control.should_evaluate = False  # done at the epoch's last step
            control.should_save = False
            return control

    return ScheduleCallback()


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _checkpoint_complete(path: str, step: int) -> bool:
    """Trainer writes a checkpoint's files in place, trainer_state.json last: a checkpoint cut short by a kill
    lacks it (or holds a torn one); one cut short while being rotated away lacks other files."""
    state = _read_json(os.path.join(path, "trainer_state.json"))
    if not state or state.get("global_step") != step:
        return False
    names = set(os.listdir(path))
    weights = {"adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json"}
    return bool(names & weights) and {"optimizer.pt", "scheduler.pt"} <= names


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest complete checkpoint-N under ckpt_dir; incomplete ones are removed."""
    if not os.path.isdir(ckpt_dir):
        return None
    found = []
    for name in os.listdir(ckpt_dir):
        path = os.path.join(ckpt_dir, name)
        head, _, num = name.partition("-")
        if head != "checkpoint" or not num.isdigit() or not os.path.isdir(path):
            continue
        if _checkpoint_complete(path, int(num)):
            found.append((int(num), path))
        else:
            print(f"train: removing incomplete checkpoint {path}", file=sys.stderr)
            shutil.rmtree(path, ignore_errors=True)
    return max(found)[1] if found else None


def made_from(spec: dict[str, Any]) -> dict[str, Any]:
    """What the weights are made from: the spec, and what its data and base_model paths hold now."""
    return {"spec": spec, "data_sha256": file_sha256(spec["data"]), "base_model": model_identity(spec["base_model"])}


def train_fingerprint(spec: dict[str, Any]) -> str:
    return digest(made_from(spec))


def _resume_checkpoint(ckpt_dir: str, work_dir: str, fingerprint: str) -> str | None:
    """The last checkpoint of an earlier run of the same fingerprint; checkpoints of another are removed."""
    saved = _read_json(os.path.join(work_dir, SPEC_COPY))
    if saved is None or saved.get("fingerprint") != fingerprint:
        if os.path.isdir(ckpt_dir):
            print(f"train: removing checkpoints of a different spec, data file or base model in {ckpt_dir}",
                  file=sys.stderr)
            shutil.rmtree(ckpt_dir)
        return None
    return last_complete_checkpoint(ckpt_dir)


class Ranks:
    """This process's place in a torchrun job (world 1 when run alone); rank 0 decides, the others follow."""

    class Stopped(Exception):
        """Rank 0 failed before training: a follower leaves quietly, rank 0 reports the failure."""

    def __init__(self) -> None:
        torchrun = protocol.under_torchrun()  # WORLD_SIZE and RANK set by anything else are not ours
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1) if torchrun else 1
        self.rank = protocol.rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0) if torchrun else 0
        self._group = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def start(self, device: str) -> None:
        """Join the job's process group (which Trainer/accelerate then use as is), plus a gloo group for
        rank 0's decisions."""
        if self.world == 1:
            return
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            if device == "cuda":
                torch.cuda.set_device(self.local_rank)
                dist.init_process_group(backend="cpu:gloo,cuda:nccl", device_id=torch.device("cuda", self.local_rank))
            else:
                dist.init_process_group(backend="gloo")
        self._group = dist.new_group(backend="gloo")

    def from_main(self, fn: Any) -> Any:
        """fn() on rank 0, its value sent to every rank; when it raises, the followers raise Stopped."""
        if self.world == 1:
            return fn()
        import torch.distributed as dist

        box: list[Any] = [None]
        if self.main:
            try:
                value = fn()
            except BaseException:
                dist.broadcast_object_list([("stop", None)], src=0, group=self._group)
                raise
            box = [("ok", value)]
        dist.broadcast_object_list(box, src=0, group=self._group)
        status, value = box[0]
        if status != "ok":
            raise Ranks.Stopped()
        return value

    def close(self) -> None:
        """Leave the process group before the interpreter exits: gloo's threads still running at exit abort the
        process (SIGABRT, "terminate called without an active exception") even after a good result."""
        if self.world == 1:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def run(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The job's result on rank 0 (or alone); None on the other ranks of a torchrun job."""
    started = time.monotonic()
    ranks = Ranks()
    device = None
    if ranks.world > 1:
        device = resolve_device(spec["device"])
        ranks.start(device)
    with contextlib.ExitStack() as held:
        held.callback(ranks.close)
        def begin() -> tuple[dict[str, Any] | None, str]:
            os.makedirs(spec["work_dir"], exist_ok=True)
            # one job at a time on work_dir and output (rank 0 holds it for the whole job)
            held.enter_context(exclusive_lock(os.path.join(spec["work_dir"], LOCK)))
            fingerprint = train_fingerprint(spec)  # rank 0's, sent to all: one view of the data and base model
            return _reusable(spec, fingerprint), fingerprint

        reused, fingerprint = ranks.from_main(begin)
        if reused is not None:
            return reused if ranks.main else None
        return _run_locked(spec, started, device, ranks, fingerprint)


def _reusable(spec: dict[str, Any], fingerprint: str) -> dict[str, Any] | None:
    """The result when output already holds this fingerprint's. Output that holds something else (another spec,
    or its data file or base model changed since) is set aside to OUTPUT.stale-<UTC time>, never deleted."""
    output = spec["output"]
    marker = _read_json(os.path.join(output, MARKER))
    if marker is not None and marker.get("fingerprint") == fingerprint:
        return {**marker["result"], "reused": True}
    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
        target = stale_name(output)
        os.rename(output, target)
        why = "made from another spec, data file or base model" if marker is not None else "not a finished result"
        print(f"train: output {output} was {why}; moved to {target}", file=sys.stderr)
        protocol.progress(stage="discarded stale output", path=output, moved_to=target, reason=why)
    return None


def _run_locked(spec: dict[str, Any], started: float, device: str | None, ranks: Ranks,
                fingerprint: str) -> dict[str, Any] | None:
    rows, skipped = read_rows(spec["data"])
    device = device or resolve_device(spec["device"])
    setup_threads(device)
    import torch

    if spec["precision"] == "auto":
        bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    else:
        bf16 = spec["precision"] == "bf16"

    protocol.progress(stage="loading")
    tokenizer = load_tokenizer(spec["base_model"], padding_side="right")
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"tokenizer in {spec['base_model']} has no chat template")
    examples = []
    for row in rows:
        ex = build_example(tokenizer, spec["system_prompt"], row["instruction"], row["input"], row["response"],
                           spec["cutoff_len"])
        if ex is None:
            skipped += 1
        else:
            examples.append(ex)
    if not examples:
        raise BadInput(f"{spec['data']}: no usable training rows ({skipped} skipped: empty instruction or response, "
                       f"or nothing of the response left within cutoff_len={spec['cutoff_len']})")
    train_set, val_set = split(examples, spec["seed"], spec["max_samples"], spec["val_fraction"])

    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

    set_seed(spec["seed"])
    base_dtype = stored_dtype(spec["base_model"])
    train_dtype = torch.bfloat16 if (bf16 and spec["method"] == "lora") else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(spec["base_model"], dtype=train_dtype)
    except Exception as exc:  # noqa: BLE001
        if protocol.classify(exc)[0] == protocol.OUT_OF_MEMORY:
            raise
        raise ModelLoadError(f"cannot load model from {spec['base_model']}: {type(exc).__name__}: {exc}") from exc
    if spec["method"] == "lora":
        from peft import LoraConfig, get_peft_model

        lora = spec["lora"]
        model = get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                 target_modules=lora["target_modules"], task_type="CAUSAL_LM"))

    ckpt_dir = os.path.join(spec["work_dir"], "checkpoints")

    def resume_point() -> str | None:
        found = _resume_checkpoint(ckpt_dir, spec["work_dir"], fingerprint)
        write_json_atomic(os.path.join(spec["work_dir"], SPEC_COPY), {"fingerprint": fingerprint, "spec": spec})
        return found

    resume = ranks.from_main(resume_point)
    has_val = len(val_set) > 0
    args = TrainingArguments(
        output_dir=ckpt_dir,
        per_device_train_batch_size=spec["per_device_batch_size"],
        per_device_eval_batch_size=spec["per_device_batch_size"],
        gradient_accumulation_steps=spec["gradient_accumulation_steps"],
        learning_rate=spec["learning_rate"],
        lr_scheduler_type=spec["lr_scheduler"],
        warmup_steps=spec["warmup_steps"],
        num_train_epochs=float(spec["epochs"]),
        max_steps=spec["max_steps"] if spec["max_steps"] is not None else -1,
        logging_strategy="steps",
        logging_steps=1,
        # When to evaluate and save is up to _schedule_callback; these say what Trainer must know. Trainer's own
        # load_best_model_at_end would demand equal eval and save schedules (evaluating every save_steps), so
        # the best weights are loaded by run() instead, from the checkpoint Trainer records as best.
        eval_strategy="epoch" if has_val else "no",
        save_strategy="steps",
        save_steps=spec["save_steps"] or 500,  # unused: _schedule_callback decides
        save_total_limit=3 if has_val else 2,  # the newest two, and the best (never rotated away)
        load_best_model_at_end=False,
        metric_for_best_model="eval_loss" if has_val else None,
        greater_is_better=False if has_val else None,
        bf16=bf16,
        use_cpu=device == "cpu",
        seed=spec["seed"],
        data_seed=spec["seed"],
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=device == "cuda",
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,  # every trainable weight takes part (torchrun: saves a graph walk)
    )
    done_state = _finished_state(resume) if resume else None
    if done_state is not None and not ranks.main:
        return None  # nothing to train: rank 0 takes the weights from the checkpoint
    if done_state is not None:
        # The earlier run finished training (it died while saving): take its best weights, do not step again.
        model = _load_checkpoint_weights(model, _best_checkpoint(done_state, resume, ckpt_dir), spec, train_dtype)
        log_history, steps = done_state.get("log_history", []), int(done_state["global_step"])
        eval_loss = done_state.get("best_metric") if has_val else None
        protocol.progress(stage="training", train_samples=len(train_set), val_samples=len(val_set),
                          resumed_from=os.path.basename(resume), finished=True)
    else:
        trainer = Trainer(model=model, args=args, train_dataset=ListDataset(train_set),
                          eval_dataset=ListDataset(val_set) if has_val else None,
                          data_collator=PadCollator(int(tokenizer.pad_token_id)),
                          callbacks=[_schedule_callback(spec["save_steps"], has_val), _event_callback()])
        protocol.progress(stage="training", train_samples=len(train_set), val_samples=len(val_set),
                          resumed_from=os.path.basename(resume) if resume else None)
        trainer.train(resume_from_checkpoint=resume)
        state = trainer.state
        model, log_history, steps = trainer.model, state.log_history, int(state.global_step)
        eval_loss = state.best_metric if has_val else None
        if has_val and eval_loss is None:  # not expected: the schedule evaluates at the last step
            eval_loss = trainer.evaluate().get("eval_loss")  # every rank: evaluation is collective under DDP
            protocol.progress(step=steps, epoch=state.epoch, eval_loss=eval_loss)
        if not ranks.main:
            return None  # rank 0 picks the best weights, merges and writes the output
        if has_val and state.best_metric is not None and state.best_global_step and state.best_global_step != steps:
            best = os.path.join(ckpt_dir, f"checkpoint-{state.best_global_step}")
            model = _load_checkpoint_weights(model, best, spec, train_dtype)
    step_losses = [h["loss"] for h in log_history if "loss" in h]

    protocol.progress(stage="saving")
    if spec["method"] == "lora":
        model = _merge(model, spec, base_dtype, train_dtype)
    elif base_dtype != torch.float32:
        model = model.to(base_dtype)
    result = {
        "output": spec["output"],
        "train_loss": float(sum(step_losses) / len(step_losses)) if step_losses else None,
        "eval_loss": float(eval_loss) if eval_loss is not None else None,
        "steps": steps,
        "train_samples": len(train_set),
        "val_samples": len(val_set),
        "skipped_samples": skipped,
        "elapsed_s": round(time.monotonic() - started, 3),
    }
    with staged_dir(spec["output"]) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(tmp)
        write_json_atomic(os.path.join(tmp, MARKER), {"fingerprint": fingerprint, "spec": spec, "result": result})
    return {**result, "reused": False}


def _finished_state(checkpoint: str) -> dict[str, Any] | None:
    """The checkpoint's trainer state when it marks the end of training (global_step reached max_steps)."""
    state = _read_json(os.path.join(checkpoint, "trainer_state.json"))
    if state and state.get("max_steps") and int(state.get("global_step", 0)) >= int(state["max_steps"]):
        return state
    return None


def _best_checkpoint(state: dict[str, Any], last: str, ckpt_dir: str) -> str:
    best = state.get("best_model_checkpoint")
    if best:
        best = os.path.join(ckpt_dir, os.path.basename(best))  # work_dir may have moved
        if os.path.isdir(best):
            return best
    return last


def _load_checkpoint_weights(model: Any, checkpoint: str, spec: dict[str, Any], train_dtype: Any):
    if spec["method"] == "lora":
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(os.path.join(checkpoint, "adapter_model.safetensors")))
        return model
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=train_dtype)


def _merge(model: Any, spec: dict[str, Any], base_dtype: Any, train_dtype: Any):
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


def main(argv: list[str] | None = None) -> int:
    def job(args):
        quiet_libraries()
        spec = load_spec(args.spec, SPEC)
        try:
            result = run(spec)
        except Ranks.Stopped:
            raise SystemExit(0)  # rank 0 failed and reports it
        if result is not None:
            protocol.result(**result)

    return protocol.run_job(job, make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
