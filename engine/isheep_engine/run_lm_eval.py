"""run-lm-eval: run EleutherAI lm-evaluation-harness (lm-eval 0.4.13) tasks on a local model folder.

    python -m isheep_engine run-lm-eval --spec spec.json

spec: {"model": DIR (a Hugging Face model folder: config.json, weights, tokenizer; a merged model as
       save_pretrained writes it, not a LoRA adapter), "tasks": [NAME, ...] (lm-eval task, group or tag names),
       "output": FILE.json, "samples": FILE.jsonl | null, "limit": N | null (items per task),
       "num_fewshot": N | null (the tasks' own when null), "batch_size": 8, "device": "cpu" | "cuda" | "cuda:N",
       "dtype": "auto" | "float32" | "bfloat16" | "float16" ("auto": float32 on CPU, bfloat16 on CUDA where
       supported), "include_path": DIR | null (a folder of extra task YAMLs), "seed": 1234,
       "gen_kwargs": {"max_gen_toks", "until", "do_sample", "temperature", "top_p"} | null (override the
       generate_until tasks' generation_kwargs), "apply_chat_template": false, "system_instruction": STR | null,
       "bootstrap_iters": 100000 (for the stderr of metrics that are not means; 0: none)}

What runs: lm-eval's own code. The model is lm-eval's "hf" model (lm_eval.models.huggingface.HFLM) made from
model_args {"pretrained": model, "dtype": DTYPE} exactly as simple_evaluate(model="hf", ...) makes it, and
lm_eval.simple_evaluate evaluates it on the tasks; random, numpy, torch and the few-shot sampler are all seeded
with the seed. The job makes the model itself (before simple_evaluate) and loads the tasks first, so that bad
input fails before the model loads and a model that does not load is model_load.

Tasks: lm-eval's own (lm_eval/tasks) and the YAMLs under include_path (which win on a shared name). When every
name asked for is a task in include_path, or a group there of such tasks, lm-eval's ~15,000 built-in ones are not
indexed (that takes ~15 s).
A task of local data: `dataset_path: json` (or csv, parquet) with `dataset_kwargs: {data_files: {test: FILE}}`.
Task data comes through `datasets`, most of lm-eval's own from the Hugging Face hub: with HF_HUB_OFFLINE=1 or
HF_DATASETS_OFFLINE=1 only what is in the local datasets cache (HF_HOME, HF_DATASETS_CACHE) loads.

bad_input (before the model loads): a model folder that does not exist or has no config.json; an include_path
that is no folder; an unknown task name (with close matches; `python -m lm_eval ls tasks [--include_path DIR]`
in the engine's environment lists them all); a task whose dataset cannot be loaded (offline: not in the cache;
or not on the hub at all); a task that needs a Python module the engine's environment does not have (a few
tasks' utils: rouge_score, word2number...); a task that runs model-written code (lm-eval's unsafe tasks: use
run-humaneval for HumanEval); "cuda" where torch sees no CUDA device. The hub unreachable while not offline is
kind crashed (it may come back: retry).

output (FILE.json, written atomically at the end, keys sorted):
    {"lm_eval_version": "0.4.13", "model": DIR,
     "tasks": {TASK: {"alias", "output_type", "metrics": {"acc,none": F, "acc_stderr,none": F | null, ...},
                      "n_samples": {"original": N, "effective": N}, "num_fewshot": N, "version",
                      "higher_is_better": {METRIC: bool}, "task_config": {...}}},
     "groups": {GROUP: {"alias", "metrics": {...}, "subtasks": [TASK, ...], "num_fewshot": N,
                        "higher_is_better": {...}}},
     "config": {"model_args", "batch_size", "device", "dtype" (resolved), "limit", "num_fewshot", "seed",
                "gen_kwargs", "apply_chat_template", "system_instruction", "bootstrap_iters", "include_path",
                "model_num_parameters", "model_dtype", "transformers_version"},
     "samples": FILE | null, "elapsed_s": S}
    metrics are what lm-eval reports in results[TASK]: "METRIC,FILTER" and "METRIC_stderr,FILTER" (lm-eval's
    "N/A" stderr, where it cannot be computed, is null).
samples (FILE.jsonl, when asked for; written before the output, atomically): one row per item per task per filter
    {"task", "doc_id", "filter", "target", "prompt", "choices" (multiple_choice: the continuations scored),
     "responses" (the filtered responses: [loglikelihood, is_greedy] per choice, or the generated text(s)),
     "raw_responses", "metrics": {METRIC: per-item value}, "doc_hash", "prompt_hash"}
    in doc_id order; every value JSON (numpy numbers as numbers, tuples as arrays, NaN as null).

One job at a time writes an output: it holds flock on OUTPUT.lock (see files.exclusive_lock).

events:  {"event": "progress", "stage": "indexing tasks" | "loading tasks" | "loading model" | "evaluating"}
         and every 10 s (ISHEEP_LM_EVAL_HEARTBEAT_S) a heartbeat {"event": "progress", "stage": STAGE
         (or "starting", while the libraries import), "elapsed_s": S} with, while lm-eval runs the model, "requests": "loglikelihood" | "generate_until" |
         ..., "done": N, "total": N (read from lm-eval's progress bar: lm-eval has no callback)
result:  {"event": "result", "tasks": {TASK: {METRIC,FILTER: F, ...}}, "groups": {GROUP: {...}},
          "n_samples": {TASK: N (effective)}, "lm_eval_version": "0.4.13", "output": FILE,
          "samples": FILE | null, "elapsed_s": S}
"""

from __future__ import annotations

import difflib
import importlib.metadata
import math
import os
import re
import sys
import threading
import time
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, StrictBool, StrictInt, StrictStr, WithJsonSchema

from . import protocol
from .files import exclusive_lock, write_json_atomic, write_jsonl_atomic
from .models import quiet_libraries, resolve_dtype, setup_threads
from .protocol import BadInput, EngineError, ModelLoadError
from .spec import AbsolutePath, SpecModel, check, read_spec

HEARTBEAT_ENV = "ISHEEP_LM_EVAL_HEARTBEAT_S"
HEARTBEAT_S = 10.0
DEVICE_PATTERN = r"^(cpu|cuda(:[0-9]+)?)$"
LIST_TASKS = "python -m lm_eval ls tasks"

TaskName = Annotated[StrictStr, check(lambda s: bool(s.strip()) and s == s.strip(),
                                      "must be a task name (not blank, no surrounding spaces)"),
                     Field(json_schema_extra={"pattern": "^\\S(.*\\S)?$"})]
Device = Annotated[StrictStr, check(lambda s: re.match(DEVICE_PATTERN, s) is not None,
                                    'must be "cpu", "cuda" or "cuda:N"'),
                   WithJsonSchema({"type": "string", "pattern": DEVICE_PATTERN})]


class GenKwargs(SpecModel):
    """Overrides of the generate_until tasks' generation_kwargs (lm-eval's gen_kwargs); null keys are left alone."""

    max_gen_toks: Optional[int] = Field(None, gt=0)
    until: Optional[list[StrictStr]] = None
    do_sample: Optional[StrictBool] = None
    temperature: Optional[float] = Field(None, ge=0)
    top_p: Optional[float] = Field(None, gt=0, le=1)


class RunLmEvalSpec(SpecModel):
    model: AbsolutePath
    tasks: Annotated[list[TaskName], Field(min_length=1, json_schema_extra={"uniqueItems": True}),
                     check(lambda v: len(set(v)) == len(v), "must not name a task twice")]
    output: AbsolutePath
    samples: Optional[AbsolutePath] = None
    limit: Optional[StrictInt] = Field(None, gt=0)
    num_fewshot: Optional[StrictInt] = Field(None, ge=0)
    batch_size: int = Field(8, gt=0)
    device: Device = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    include_path: Optional[AbsolutePath] = None
    seed: int = 1234
    gen_kwargs: Optional[GenKwargs] = None
    apply_chat_template: bool = False
    system_instruction: Optional[StrictStr] = None
    bootstrap_iters: int = Field(100000, ge=0)


# --- JSON ------------------------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: numpy numbers as numbers, tuples and sets as arrays, NaN and infinities as null,
    torch dtypes as their names, anything else unknown as its str."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None  # float(): numpy's float64 is a float too
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return jsonable(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return jsonable(tolist())
    return str(value).removeprefix("torch.")


def metric_values(entry: dict[str, Any]) -> dict[str, Any]:
    """The "METRIC,FILTER" values of a results[...] entry (not its name, alias, sizes), "N/A" as null."""
    skip = {"name", "alias", "sample_len", "sample_count", "samples"}
    return {k: (None if v == "N/A" else jsonable(v)) for k, v in entry.items() if k not in skip and "," in k}


# --- progress --------------------------------------------------------------------------------------------------


class Heartbeat:
    """A progress event at each stage change and every few seconds from a thread of its own (lm-eval has no
    callback), with the done/total of lm-eval's progress bar over the model's requests while one runs."""

    def __init__(self, interval: float):
        self.interval = interval
        self.started = time.monotonic()
        self.stage = "starting"
        self.bar: Any = None  # the tqdm bar of the model's requests (see track_requests)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="isheep-lm-eval-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def set_stage(self, stage: str, **fields: Any) -> None:
        self.stage = stage
        self.bar = None
        with self._lock:
            protocol.progress(stage=stage, **fields)

    def beat(self) -> None:
        fields: dict[str, Any] = {"stage": self.stage, "elapsed_s": round(time.monotonic() - self.started, 1)}
        bar = self.bar
        if bar is not None:
            desc = str(getattr(bar, "desc", "") or "")
            kind = re.sub(r"^Running (.*?) requests.*$", r"\1", desc) if desc.startswith("Running ") else "requests"
            fields.update(requests=kind, done=int(getattr(bar, "n", 0) or 0), total=getattr(bar, "total", None))
        with self._lock:
            protocol.progress(**fields)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()


def heartbeat_interval() -> float:
    raw = os.environ.get(HEARTBEAT_ENV)
    if raw:
        try:
            value = float(raw)
            if value > 0:
                return value
        except ValueError:
            pass
        print(f"ignoring {HEARTBEAT_ENV}={raw!r}: not a number > 0", file=sys.stderr)
    return HEARTBEAT_S


def track_requests(heartbeat: Heartbeat) -> None:
    """Have lm-eval's hf model report its progress bars to the heartbeat (and redraw them less often on stderr).
    Should a later lm-eval make its bars elsewhere, the heartbeat goes on without done/total."""
    import lm_eval.models.huggingface as hf
    from tqdm import tqdm

    class Tracked(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs.setdefault("mininterval", 5.0)
            super().__init__(*args, **kwargs)
            heartbeat.bar = self

    hf.tqdm = Tracked


# --- checks ----------------------------------------------------------------------------------------------------


def check_model_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise BadInput(f"model: folder {path} does not exist" if not os.path.exists(path)
                       else f"model: {path} is not a folder")
    if not os.path.isfile(os.path.join(path, "config.json")):
        adapter = os.path.isfile(os.path.join(path, "adapter_config.json"))
        raise BadInput(f"model: {path} has no config.json; expected a Hugging Face model folder as save_pretrained "
                       "writes it" + (" (this is a LoRA adapter: merge it into its base model first)" if adapter
                                      else ""))


def check_device(device: str) -> None:
    if device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise BadInput(f"device {device!r} was asked for but torch sees no CUDA device")
    if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
        raise BadInput(f"device {device!r}: torch sees {torch.cuda.device_count()} CUDA device(s)")


def offline() -> bool:
    flags = (os.environ.get(v, "") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(f.strip().upper() in ("1", "ON", "YES", "TRUE") for f in flags)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _from_hub(exc: BaseException) -> bool:
    for e in _chain(exc):
        module = type(e).__module__ or ""
        if isinstance(e, ConnectionError) or module.split(".")[0] in ("huggingface_hub", "requests", "httpx",
                                                                      "httpx2", "httpcore", "httpcore2", "urllib3"):
            return True
        if type(e).__name__ in ("DatasetNotFoundError", "OfflineModeIsEnabled", "LocalEntryNotFoundError"):
            return True
    return False


def task_load_error(name: str, exc: BaseException) -> EngineError:
    """What a failure to load task ``name`` (its YAML, utils, dataset) means for the caller."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError):
        return BadInput(f"task {name!r} needs the Python module {exc.name!r}, which the engine's environment does "
                        "not have (engine/requirements.txt says which of lm-eval's requirements it installs)")
    if _from_hub(exc):
        where = ("The task's data comes from the Hugging Face hub: it needs the hub, or the dataset already in the "
                 "local datasets cache (HF_HOME, HF_DATASETS_CACHE); or make it a task of local files (dataset_path: "
                 "json, dataset_kwargs: {data_files: ...}) in include_path.")
        if offline():
            return BadInput(f"task {name!r}: its dataset cannot be loaded offline ({text}). {where} HF_HUB_OFFLINE / "
                            "HF_DATASETS_OFFLINE are set, so nothing is fetched from the hub")
        if any(type(e).__name__ in ("DatasetNotFoundError", "RepositoryNotFoundError") for e in _chain(exc)):
            return BadInput(f"task {name!r}: its dataset is not on the hub ({text})")
        return EngineError(f"task {name!r}: its dataset cannot be loaded: the hub did not answer ({text}). {where} "
                           "Where there is no internet, set HF_HUB_OFFLINE=1 (then this is bad_input at once)")
    if isinstance(exc, FileNotFoundError):
        return BadInput(f"task {name!r}: a file it needs is missing ({text})")
    return BadInput(f"task {name!r} cannot be loaded: {text}")


# --- tasks -----------------------------------------------------------------------------------------------------


def self_contained(index: dict[str, Any], name: str, seen: frozenset = frozenset()) -> bool:
    """Whether ``name`` loads from ``index`` alone: a task there, or a group there whose members (by name) all
    are. Not a tag (lm-eval's own tasks may carry it too), nor a group with members given inline."""
    entry = index.get(name)
    kind = getattr(getattr(entry, "kind", None), "name", None)
    if kind in ("TASK", "PY_TASK"):
        return True
    if kind != "GROUP" or name in seen:
        return False
    members = (getattr(entry, "cfg", None) or {}).get("task")
    members = [members] if isinstance(members, str) else members
    return isinstance(members, list) and all(isinstance(m, str) and self_contained(index, m, seen | {name})
                                             for m in members)


def task_manager(spec: RunLmEvalSpec, metadata: dict[str, Any]):
    """lm-eval's TaskManager over include_path alone when that has everything asked for (see self_contained),
    else over lm-eval's own tasks and include_path; bad_input naming unknown names."""
    from lm_eval.tasks import TaskManager

    if spec.include_path is not None:
        local = TaskManager(include_path=spec.include_path, include_defaults=False, metadata=metadata)
        if all(self_contained(local.task_index, name) for name in spec.tasks):
            return local
    manager = TaskManager(include_path=spec.include_path, metadata=metadata)
    known = set(manager.all_tasks)
    unknown = [t for t in spec.tasks if t not in known]
    if unknown:
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, manager.all_tasks, n=5, cutoff=0.6)
            parts.append(f"{name!r}" + (f" (close: {', '.join(close)})" if close else ""))
        where = "lm-eval's tasks" + (f" and those in include_path {spec.include_path}" if spec.include_path else "")
        listing = LIST_TASKS + (f" --include_path {spec.include_path}" if spec.include_path else "")
        raise BadInput(f"tasks: unknown task {', '.join(parts)}: not among {where} ({len(known)} names); list them "
                       f"with `{listing}` in the engine's environment")
    return manager


def load_tasks(manager: Any, names: list[str]) -> list[Any]:
    """Each name built (its datasets loaded) as lm-eval's TaskManager.load builds it: a group as its Group, a task
    as its Task, a tag as its tasks; what simple_evaluate is then given."""
    built: list[Any] = []
    for name in names:
        try:
            loaded = manager.load([name])
        except (KeyboardInterrupt, MemoryError, protocol.Terminated):
            raise
        except Exception as exc:  # noqa: BLE001 - a task's YAML, utils or data
            raise task_load_error(name, exc) from exc
        if name in loaded.get("groups", {}):
            built.append(loaded["groups"][name])
        else:
            built.extend(loaded["tasks"].values())
        for task_name, task in loaded["tasks"].items():
            if getattr(task, "UNSAFE_CODE", False):
                raise BadInput(f"task {task_name!r} runs model-written code (lm-eval marks it unsafe); the engine does "
                               "not run those (HumanEval: the run-humaneval job runs completions in a sandbox)")
    return built


# --- the job ---------------------------------------------------------------------------------------------------


def load_model(spec: RunLmEvalSpec, model_args: dict[str, Any]):
    """lm-eval's "hf" model, made as simple_evaluate(model="hf", model_args=...) makes it."""
    import lm_eval.api.registry

    try:
        return lm_eval.api.registry.get_model("hf").create_from_arg_obj(
            model_args, {"batch_size": spec.batch_size, "max_batch_size": None, "device": spec.device})
    except Exception as exc:  # noqa: BLE001
        kind, _ = protocol.classify(exc)
        if kind == protocol.OUT_OF_MEMORY:
            raise
        raise ModelLoadError(f"cannot load model from {spec.model}: {type(exc).__name__}: {exc}") from exc


def sample_rows(samples: dict[str, list[dict[str, Any]]], output_types: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for task, items in samples.items():
        for s in sorted(items, key=lambda s: s.get("doc_id", 0)):  # stable: filters keep their order
            arguments = s.get("arguments") or []
            first = arguments[0] if arguments else None
            row = {"task": task, "doc_id": jsonable(s.get("doc_id")), "filter": s.get("filter"),
                   "target": jsonable(s.get("target")),
                   "prompt": first[0] if isinstance(first, (list, tuple)) and first and isinstance(first[0], str)
                   else None}
            if output_types.get(task) == "multiple_choice":
                row["choices"] = [a[1] if isinstance(a, (list, tuple)) and len(a) > 1 else None for a in arguments]
            row.update(responses=jsonable(s.get("filtered_resps")), raw_responses=jsonable(s.get("resps")),
                       metrics={m: jsonable(s[m]) for m in s.get("metrics", []) if m in s},
                       doc_hash=s.get("doc_hash"), prompt_hash=s.get("prompt_hash"))
            rows.append(row)
    return rows


def summarize(results: dict[str, Any], spec: RunLmEvalSpec, config: dict[str, Any], elapsed: float,
              version: str) -> dict[str, Any]:
    groups_of = results.get("group_subtasks") or {}
    configs = results.get("configs") or {}
    tasks, groups = {}, {}
    for name, entry in (results.get("results") or {}).items():
        common = {"alias": entry.get("alias", name), "metrics": metric_values(entry),
                  "num_fewshot": jsonable((results.get("n-shot") or {}).get(name)),
                  "higher_is_better": jsonable((results.get("higher_is_better") or {}).get(name) or {})}
        if name in groups_of:
            groups[name] = {**common, "subtasks": list(groups_of[name])}
        else:
            task_config = configs.get(name) or {}
            tasks[name] = {**common, "output_type": task_config.get("output_type"),
                           "n_samples": jsonable((results.get("n-samples") or {}).get(name)),
                           "version": jsonable((results.get("versions") or {}).get(name)),
                           "task_config": jsonable(task_config)}
    return {"lm_eval_version": version, "model": spec.model, "tasks": tasks, "groups": groups, "config": config,
            "samples": spec.samples, "elapsed_s": round(elapsed, 3)}


def run(spec: RunLmEvalSpec, heartbeat: Heartbeat) -> dict[str, Any]:
    if spec.samples is not None and spec.samples == spec.output:
        raise BadInput("samples: must not be the output file")
    check_model_dir(spec.model)
    if spec.include_path is not None and not os.path.isdir(spec.include_path):
        raise BadInput(f"include_path: {spec.include_path} is not a folder")
    quiet_libraries()
    check_device(spec.device)
    on = "cuda" if spec.device.startswith("cuda") else "cpu"
    dtype = str(resolve_dtype(spec.dtype, on)).removeprefix("torch.")
    setup_threads(on)
    model_args = {"pretrained": spec.model, "dtype": dtype}
    gen_kwargs = {k: v for k, v in spec.gen_kwargs.model_dump().items() if v is not None} if spec.gen_kwargs else {}

    heartbeat.set_stage("indexing tasks")
    import lm_eval

    version = importlib.metadata.version("lm_eval")
    manager = task_manager(spec, metadata=dict(model_args))
    heartbeat.set_stage("loading tasks", tasks=spec.tasks)
    tasks = load_tasks(manager, spec.tasks)
    heartbeat.set_stage("loading model", model=spec.model, device=spec.device, dtype=dtype)
    track_requests(heartbeat)
    lm = load_model(spec, model_args)
    heartbeat.set_stage("evaluating")
    results = lm_eval.simple_evaluate(
        model=lm, tasks=tasks, task_manager=manager, num_fewshot=spec.num_fewshot, batch_size=spec.batch_size,
        device=spec.device, limit=spec.limit, bootstrap_iters=spec.bootstrap_iters,
        log_samples=spec.samples is not None, gen_kwargs=gen_kwargs or None,
        apply_chat_template=spec.apply_chat_template, system_instruction=spec.system_instruction,
        random_seed=spec.seed, numpy_random_seed=spec.seed, torch_random_seed=spec.seed,
        fewshot_random_seed=spec.seed)
    if results is None:  # only when lm-eval thinks this is not its rank 0
        raise EngineError("lm-eval returned no results (not rank 0?)")
    elapsed = time.monotonic() - heartbeat.started
    lm_config = results.get("config") or {}
    config = {"model_args": model_args, "batch_size": spec.batch_size, "device": spec.device, "dtype": dtype,
              "limit": spec.limit, "num_fewshot": spec.num_fewshot, "seed": spec.seed, "gen_kwargs": gen_kwargs or None,
              "apply_chat_template": spec.apply_chat_template, "system_instruction": spec.system_instruction,
              "bootstrap_iters": spec.bootstrap_iters, "include_path": spec.include_path,
              "model_num_parameters": jsonable(lm_config.get("model_num_parameters")),
              "model_dtype": jsonable(lm_config.get("model_dtype")),
              "transformers_version": jsonable(results.get("transformers_version"))}
    summary = summarize(results, spec, config, elapsed, version)
    if spec.samples is not None:
        output_types = {name: t["output_type"] for name, t in summary["tasks"].items()}
        write_jsonl_atomic(spec.samples, sample_rows(results.get("samples") or {}, output_types))
    os.makedirs(os.path.dirname(spec.output), exist_ok=True)
    write_json_atomic(spec.output, summary)
    return {"tasks": {name: t["metrics"] for name, t in summary["tasks"].items()},
            "groups": {name: g["metrics"] for name, g in summary["groups"].items()},
            "n_samples": {name: (t["n_samples"] or {}).get("effective") for name, t in summary["tasks"].items()},
            "lm_eval_version": version, "output": spec.output, "samples": spec.samples,
            "elapsed_s": summary["elapsed_s"]}


def main(argv: list[str] | None = None) -> int:
    def job(args):
        spec = read_spec(args.spec, RunLmEvalSpec)
        with exclusive_lock(spec.output + ".lock"), Heartbeat(heartbeat_interval()) as heartbeat:
            outcome = run(spec, heartbeat)
        protocol.result(**outcome)

    return protocol.run_job(job, protocol.job_parser("isheep_engine run-lm-eval", __doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
