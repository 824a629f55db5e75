"""train's Trainer callbacks: progress events from Trainer's logs, and when to evaluate and checkpoint."""

from __future__ import annotations

from . import protocol


def event_callback():
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


def schedule_callback(save_steps: int | None, has_val: bool):
    """Decides when to evaluate and when to checkpoint (it runs after Trainer's DefaultFlowCallback).

    At each epoch's last optimizer step and at max_steps: evaluate (with a validation set), then save; with
    save_steps also save every save_steps steps. Evaluating at the epoch's last step rather than in on_epoch_end
    keeps a save of that step from ever coming before its evaluation: a checkpoint whose step ends an epoch
    always holds that epoch's eval loss, so resuming from it cannot skip an evaluation.
    Best-model selection: Trainer records best_metric/best_model_checkpoint itself (metric_for_best_model is
    set) and keeps that checkpoint out of rotation; the train job loads its weights at the end.
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
