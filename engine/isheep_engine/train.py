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

This module is the job (the spec, TrainSpec; the lock; what is reused; the run); the parts are train_data.py
(rows, examples, split), train_callbacks.py (progress events, when to evaluate and save), checkpoints.py
(complete checkpoints, what to resume from), ranks.py (torchrun) and merge.py (best weights, LoRA merge, the
model folder).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Annotated, Any, Literal

from pydantic import Field

from . import protocol
from .checkpoints import SPEC_COPY, best_checkpoint, finished_state, read_json, resume_checkpoint
from .files import exclusive_lock, stale_name, write_json_atomic
from .identity import digest, file_sha256, model_identity
from .merge import load_checkpoint_weights, merge_adapter, write_model
from .models import Device, load_tokenizer, quiet_libraries, resolve_device, setup_threads, stored_dtype
from .protocol import BadInput, ModelLoadError
from .ranks import Ranks
from .spec import AbsolutePath, SpecModel, explained, load_spec
from .train_callbacks import event_callback, schedule_callback
from .train_data import ListDataset, PadCollator, build_example, read_rows, split

MARKER = "isheep-train.json"
LOCK = ".lock"

Positive = Annotated[int, Field(gt=0)]
# A number that stays an integer when given as one (2 epochs, not 2.0): the spec's values go into its fingerprint.
PositiveNumber = Annotated[Annotated[int, Field(gt=0)] | Annotated[float, Field(gt=0)], explained("must be a number > 0")]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class LoraSpec(SpecModel):
    r: Positive = 8
    alpha: PositiveNumber = 16
    dropout: Fraction = 0.05
    target_modules: Annotated[Annotated[str, Field(min_length=1)] | Annotated[list[Annotated[str, Field(min_length=1)]],
                                                                              Field(min_length=1)],
                              explained('must be "all-linear" or a non-empty list of module names')] = "all-linear"


class TrainSpec(SpecModel):
    """The spec of a train job (see the train module's docstring)."""

    base_model: AbsolutePath
    data: AbsolutePath
    output: AbsolutePath
    work_dir: AbsolutePath
    method: Literal["lora", "full"] = "lora"
    lora: LoraSpec = Field(default_factory=LoraSpec)
    learning_rate: Annotated[float, Field(gt=0)] = 5e-5
    lr_scheduler: Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                          "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay"] = "cosine"
    warmup_steps: Annotated[int, Field(ge=0)] = 20
    epochs: PositiveNumber = 2
    cutoff_len: Annotated[int, Field(ge=8)] = 1024
    per_device_batch_size: Positive = 4
    gradient_accumulation_steps: Positive = 4
    max_samples: Positive | None = 3000
    val_fraction: Fraction = 0.1
    seed: int = 42
    max_steps: Positive | None = None
    save_steps: Positive | None = None
    system_prompt: str | None = "You are a helpful assistant."  # null: no system turn
    device: Device = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"


def make_parser():
    return protocol.job_parser("isheep_engine train", __doc__)


def made_from(spec: dict[str, Any]) -> dict[str, Any]:
    """What the weights are made from: the spec, and what its data and base_model paths hold now."""
    return {"spec": spec, "data_sha256": file_sha256(spec["data"]), "base_model": model_identity(spec["base_model"])}


def train_fingerprint(spec: dict[str, Any]) -> str:
    return digest(made_from(spec))


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
    marker = read_json(os.path.join(output, MARKER))
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
        found = resume_checkpoint(ckpt_dir, spec["work_dir"], fingerprint)
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
        # When to evaluate and save is up to schedule_callback; these say what Trainer must know. Trainer's own
        # load_best_model_at_end would demand equal eval and save schedules (evaluating every save_steps), so
        # the best weights are loaded by _run_locked() instead, from the checkpoint Trainer records as best.
        eval_strategy="epoch" if has_val else "no",
        save_strategy="steps",
        save_steps=spec["save_steps"] or 500,  # unused: schedule_callback decides
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
    done_state = finished_state(resume) if resume else None
    if done_state is not None and not ranks.main:
        return None  # nothing to train: rank 0 takes the weights from the checkpoint
    if done_state is not None:
        # The earlier run finished training (it died while saving): take its best weights, do not step again.
        model = load_checkpoint_weights(model, best_checkpoint(done_state, resume, ckpt_dir), spec, train_dtype)
        log_history, steps = done_state.get("log_history", []), int(done_state["global_step"])
        eval_loss = done_state.get("best_metric") if has_val else None
        protocol.progress(stage="training", train_samples=len(train_set), val_samples=len(val_set),
                          resumed_from=os.path.basename(resume), finished=True)
    else:
        trainer = Trainer(model=model, args=args, train_dataset=ListDataset(train_set),
                          eval_dataset=ListDataset(val_set) if has_val else None,
                          data_collator=PadCollator(int(tokenizer.pad_token_id)),
                          callbacks=[schedule_callback(spec["save_steps"], has_val), event_callback()])
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
            model = load_checkpoint_weights(model, best, spec, train_dtype)
    step_losses = [h["loss"] for h in log_history if "loss" in h]

    protocol.progress(stage="saving")
    if spec["method"] == "lora":
        model = merge_adapter(model, spec, base_dtype, train_dtype)
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
    write_model(spec["output"], model, tokenizer, MARKER, {"fingerprint": fingerprint, "spec": spec, "result": result})
    return {**result, "reused": False}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        quiet_libraries()
        spec = load_spec(args.spec, TrainSpec)
        try:
            result = run(spec)
        except Ranks.Stopped:
            raise SystemExit(0)  # rank 0 failed and reports it
        if result is not None:
            protocol.result(**result)

    return protocol.run_job(job, make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
