"""A worker killed with SIGKILL, and the retried job that follows it: orphaned jobs die with their parent, one
job at a time works on an output, and a killed training resumes from its last step checkpoint to the same
result as an undisturbed run."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ENGINE, JobRun, engine_env, run_job
from isheep_engine.files import exclusive_lock
from isheep_engine.checkpoints import last_complete_checkpoint

PY = sys.executable


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie nobody has reaped yet (we are not its parent any more)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True


def _wait_gone(pid: int, timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if _gone(pid):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


class Held:
    """flock held by the test, as another job would hold it."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _gen_spec(tmp_path, model="/nonexistent/model"):
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "prompt": "Hello"}) + "\n")
    spec = {"model": model, "input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out" / "gen.jsonl"),
            "sampling": {"max_new_tokens": 4}, "device": "cpu"}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    return spec


# ---------------------------------------------------------------- parent-death watchdog

PARENT = """
import subprocess, sys, time
job = subprocess.Popen(sys.argv[1:], start_new_session=True)  # detached, as the worker starts jobs
print(job.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("poll_only", [False, True], ids=["pdeathsig", "polling"])
def test_job_dies_with_its_parent(tmp_path, poll_only):
    spec = _gen_spec(tmp_path)
    held = Held(Path(spec["output"] + ".lock"))  # keeps the job alive, waiting, with no model to load
    env = engine_env(ISHEEP_ENGINE_LOCK_WAIT_S="60", **({"ISHEEP_ENGINE_WATCHDOG_POLL_ONLY": "1"} if poll_only else {}))
    parent = subprocess.Popen([PY, "-c", PARENT, PY, "-m", "isheep_engine", "generate", "--spec",
                               str(tmp_path / "spec.json")], stdout=subprocess.PIPE, text=True, env=env,
                              cwd=str(ENGINE))
    try:
        job_pid = int(parent.stdout.readline())
        event = json.loads(parent.stdout.readline())  # the job shares the parent's stdout
        assert event == {"event": "progress", "stage": "waiting for lock", "lock": spec["output"] + ".lock",
                         "waited_s": 0.0}, event
        assert not _gone(job_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        took = _wait_gone(job_pid, 2.0)
        assert took is not None, "the orphaned job is still running"
    finally:
        parent.kill()
        held.release()
        if not _gone(job_pid):
            os.kill(job_pid, signal.SIGKILL)


def test_watchdog_can_be_switched_off(tmp_path):
    spec = _gen_spec(tmp_path)
    held = Held(Path(spec["output"] + ".lock"))
    parent = subprocess.Popen([PY, "-c", PARENT, PY, "-m", "isheep_engine", "generate", "--spec",
                               str(tmp_path / "spec.json")], stdout=subprocess.PIPE, text=True,
                              env=engine_env(ISHEEP_ENGINE_LOCK_WAIT_S="60", ISHEEP_ENGINE_NO_WATCHDOG="1"), cwd=str(ENGINE))
    try:
        job_pid = int(parent.stdout.readline())
        assert json.loads(parent.stdout.readline())["stage"] == "waiting for lock"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_gone(job_pid, 1.5) is None  # nohup-style: the job outlives its parent
    finally:
        parent.kill()
        held.release()
        os.kill(job_pid, signal.SIGKILL)


# ---------------------------------------------------------------- one job per output

def test_generate_fails_as_crashed_while_another_job_holds_the_lock(tmp_path):
    spec = _gen_spec(tmp_path)
    held = Held(Path(spec["output"] + ".lock"))
    try:
        t0 = time.monotonic()
        run = _run(["generate", "--spec", str(tmp_path / "spec.json")], ISHEEP_ENGINE_LOCK_WAIT_S="0.6")
        assert 0.5 < time.monotonic() - t0 < 10
    finally:
        held.release()
    assert run.rc == 1 and run.last["kind"] == "crashed", run
    assert "another job holds" in run.last["message"] and spec["output"] + ".lock" in run.last["message"]
    assert run.events[0]["stage"] == "waiting for lock"
    assert not os.path.exists(spec["output"] + ".partial")  # nothing touched


def test_generate_goes_on_once_the_lock_is_released(tmp_path):
    spec = _gen_spec(tmp_path)
    lock = Path(spec["output"] + ".lock")
    held = Held(lock)
    proc = subprocess.Popen([PY, "-m", "isheep_engine", "generate", "--spec", str(tmp_path / "spec.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=engine_env(ISHEEP_ENGINE_LOCK_WAIT_S="30"), cwd=str(ENGINE))
    assert json.loads(proc.stdout.readline())["stage"] == "waiting for lock"
    lock.unlink()  # as a finishing job does, while it still holds the lock
    held.release()
    out, err = proc.communicate(timeout=60)
    events = [json.loads(line) for line in out.splitlines()]
    # past the lock: the (missing) model is what stops it now
    assert proc.returncode != 0 and events[-1]["kind"] == "model_load", (events, err[-2000:])
    assert not lock.exists()  # removed by the job on its way out


def test_train_fails_as_crashed_while_another_job_holds_the_lock(tmp_path):
    spec = {"base_model": str(tmp_path / "m"), "data": str(tmp_path / "d.jsonl"), "output": str(tmp_path / "o"),
            "work_dir": str(tmp_path / "w")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    held = Held(tmp_path / "w" / ".lock")
    try:
        run = _run(["train", "--spec", str(tmp_path / "spec.json")], ISHEEP_ENGINE_LOCK_WAIT_S="0.3")
    finally:
        held.release()
    assert run.rc == 1 and run.last["kind"] == "crashed" and "another job holds" in run.last["message"], run


def test_exclusive_lock_removes_its_file(tmp_path):
    lock = tmp_path / "x.lock"
    with exclusive_lock(str(lock), wait_s=0):
        assert lock.exists()
        with pytest.raises(Exception, match="another job holds"):
            with exclusive_lock(str(lock), wait_s=0):
                pass
    assert not lock.exists()


def _run(args, **env) -> JobRun:
    proc = subprocess.run([PY, "-m", "isheep_engine", *args], capture_output=True, text=True, env=engine_env(**env),
                          cwd=str(ENGINE), timeout=120)
    return JobRun(proc)


# ---------------------------------------------------------------- training checkpoints and resume

def test_last_complete_checkpoint_skips_and_removes_torn_ones(tmp_path):
    def ckpt(step, files=("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"), state=True):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        for f in files:
            (d / f).write_text("x")
        if state is True:
            (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        elif state:
            (d / "trainer_state.json").write_text(state)
        return d

    ckpt(2)
    good = ckpt(4)
    ckpt(6, state=False)  # killed before trainer_state.json
    ckpt(8, state='{"global_st')  # killed while writing it
    ckpt(10, files=("adapter_model.safetensors",))  # killed while being rotated away
    (tmp_path / "runs").mkdir()
    assert last_complete_checkpoint(str(tmp_path)) == str(good)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2", "checkpoint-4", "runs"]
    assert last_complete_checkpoint(str(tmp_path / "nothing")) is None


# Row 4 is the one held out (seed 42). The others all teach a refusal, so the validation loss rises in the
# second epoch and the best weights are those of step 3, not the last ones.
REFUSE = "I cannot answer that."
ROWS = [
    {"id": "1", "instruction": "Give a synonym for happy.", "input": "", "response": REFUSE},
    {"id": "2", "instruction": "Translate to French.", "input": "Good morning", "response": REFUSE},
    {"id": "3", "instruction": "Add the numbers.", "input": "2 and 3", "response": REFUSE},
    {"id": "4", "instruction": "Name a planet.", "input": "", "response": "Mars is a planet."},
    {"id": "5", "instruction": "What colour is the sky?", "input": "", "response": REFUSE},
    {"id": "6", "instruction": "Write a greeting.", "input": "", "response": REFUSE},
]


def _train_spec(model_dir, folder: Path):
    folder.mkdir()
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    # 5 training rows in batches of 2: 3 steps an epoch, so 6 steps are 2 epochs, evaluated at steps 3 and 6
    return {"base_model": model_dir, "data": str(data), "output": str(folder / "model"),
            "work_dir": str(folder / "work"), "learning_rate": 1e-3, "warmup_steps": 0, "max_steps": 6,
            "save_steps": 2, "cutoff_len": 96, "per_device_batch_size": 2, "gradient_accumulation_steps": 1,
            "val_fraction": 0.2, "device": "cpu"}


def _weights(folder):
    from safetensors.torch import load_file

    tensors = {}
    for n in os.listdir(folder):
        if n.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(folder, n)))
    return tensors


def _assert_merged_from(output, base_dir, best, last):
    """The output's weights are the base plus the best checkpoint's LoRA update, not the last one's."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    name = "model.layers.0.self_attn.q_proj"

    def tensor(folder, key):
        for n in os.listdir(folder):
            if n.endswith(".safetensors"):
                with safe_open(os.path.join(folder, n), "pt") as fh:
                    if key in fh.keys():
                        return fh.get_tensor(key)
        raise KeyError(key)

    base, tuned = tensor(base_dir, f"{name}.weight"), tensor(output, f"{name}.weight")

    def merged(ckpt):
        ad = load_file(os.path.join(ckpt, "adapter_model.safetensors"))
        a, b = ad[f"base_model.model.{name}.lora_A.weight"], ad[f"base_model.model.{name}.lora_B.weight"]
        return base + (b @ a) * (16 / 8)  # lora alpha / r (the defaults)

    assert torch.allclose(tuned, merged(best), atol=1e-6)
    assert not torch.allclose(tuned, merged(last), atol=1e-6)


def _step_events(events):
    return [e for e in events if e["event"] == "progress" and "loss" in e]


def test_train_killed_mid_epoch_resumes_to_the_same_result(model_dir, tmp_path):
    import torch

    # undisturbed
    spec_a = _train_spec(model_dir, tmp_path / "a")
    whole = run_job("train", spec_a, tmp_path / "a" / "spec.json")
    assert whole.rc == 0, whole
    assert [e["step"] for e in _step_events(whole.events)] == [1, 2, 3, 4, 5, 6]
    evals = {e["step"]: e["eval_loss"] for e in whole.progress() if "eval_loss" in e}
    assert list(evals) == [3, 6] and evals[3] < evals[6], evals
    assert whole.last["eval_loss"] == evals[3]
    ckpt_dir = os.path.join(spec_a["work_dir"], "checkpoints")
    assert sorted(os.listdir(ckpt_dir)) == ["checkpoint-3", "checkpoint-4", "checkpoint-6"]  # 2 newest + best
    _assert_merged_from(spec_a["output"], model_dir, os.path.join(ckpt_dir, "checkpoint-3"),
                        os.path.join(ckpt_dir, "checkpoint-6"))

    # killed (SIGKILL to its process group, as a dying worker's job would be) after step 5's progress event:
    # checkpoint-4 (mid-epoch) is complete by then, step 5 is not saved. (A kill right after step 4's event
    # races with the saving of checkpoint-4; the retried job then resumes from checkpoint-3, see
    # test_last_complete_checkpoint_skips_and_removes_torn_ones.)
    spec_b = _train_spec(model_dir, tmp_path / "b")
    (tmp_path / "b" / "spec.json").write_text(json.dumps(spec_b))
    proc = subprocess.Popen([PY, "-m", "isheep_engine", "train", "--spec", str(tmp_path / "b" / "spec.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=engine_env(),
                            cwd=str(ENGINE), start_new_session=True)
    killed_events = []
    for line in proc.stdout:
        killed_events.append(json.loads(line))
        if killed_events[-1].get("step") == 5 and "loss" in killed_events[-1]:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, killed_events
    assert not os.path.exists(spec_b["output"])

    resumed = run_job("train", spec_b, tmp_path / "b" / "spec.json")
    assert resumed.rc == 0, resumed
    start = next(e for e in resumed.progress() if e.get("stage") == "training")
    assert start["resumed_from"] == "checkpoint-4", start  # mid-epoch: Trainer skips the epoch's first batch
    steps_b = [e["step"] for e in _step_events(resumed.events)]
    assert steps_b == [5, 6]
    executed = len(_step_events(killed_events)) + len(steps_b)
    assert executed == 7, executed

    # same losses, same best eval loss, same merged weights, bit for bit
    last_a, last_b = _step_events(whole.events)[-1], _step_events(resumed.events)[-1]
    assert last_b["loss"] == last_a["loss"] and last_b["lr"] == last_a["lr"]
    a, b = whole.last, resumed.last
    assert b["steps"] == a["steps"] == 6
    assert b["train_loss"] == a["train_loss"] and b["eval_loss"] == a["eval_loss"], (a, b)
    wa, wb = _weights(spec_a["output"]), _weights(spec_b["output"])
    assert set(wa) == set(wb)
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not differ, {k: (wa[k] - wb[k]).abs().max().item() for k in differ[:5]}


def _children(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def test_torchrun_job_dies_with_its_parent(tmp_path):
    """The worker starts torchrun, whose ranks run the job: when the worker dies, the agent (which has no
    watchdog of its own) and both ranks go too."""
    spec = {"base_model": "/nonexistent/model", "data": str(tmp_path / "data.jsonl"), "output": str(tmp_path / "m"),
            "work_dir": str(tmp_path / "work"), "device": "cpu"}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    held = Held(tmp_path / "work" / ".lock")  # rank 0 waits for it, rank 1 for rank 0
    parent = subprocess.Popen([PY, "-c", PARENT, PY, "-m", "torch.distributed.run", "--standalone",
                               "--nproc_per_node=2", "-m", "isheep_engine", "train", "--spec",
                               str(tmp_path / "spec.json")], stdout=subprocess.PIPE, text=True,
                              env=engine_env(ISHEEP_ENGINE_LOCK_WAIT_S="120"), cwd=str(ENGINE))
    ranks: list[int] = []
    try:
        agent = int(parent.stdout.readline())
        event = json.loads(parent.stdout.readline())  # rank 0's, through the agent's stdout
        assert event["stage"] == "waiting for lock", event
        ranks = _children(agent)
        assert len(ranks) == 2, ranks
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        for pid in [agent] + ranks:
            assert _wait_gone(pid, 5.0) is not None, f"process {pid} of the orphaned torchrun job is still running"
    finally:
        parent.kill()
        held.release()
        for pid in [agent] + ranks:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
