/**
 * lm-evaluation-harness on a model of the run, as a model job (it loads the model, so it runs on a model slot):
 * the engine job run-lm-eval runs lm-eval's own `hf` model and tasks on the model folder. Per model it leaves
 * runs/<name>/eval/<label>/lm-eval.json (lm-eval's results per task, with the job's config) and
 * lm-eval.samples.jsonl (per item), with the engine's spec beside them.
 */
import { readFile } from 'node:fs/promises';
import type { ModelRef, Store } from '../artifacts/store.js';
import type { Engine } from '../engine/runner.js';
import { Z95, type Estimate } from '../stages/stats.js';
import { runEngineJob } from './engine-job.js';

export interface LmEvalInput {
  model: ModelRef;
  run: string;
  label: string;
  tasks: string[];
  limit: number | null;
  numFewshot: number | null;
  batchSize: number;
  device: string;
  includePath: string | null;
  applyChatTemplate: boolean;
  seed: number;
}

/** One lm-eval figure: its value with lm-eval's standard error (null where lm-eval has none). */
export interface LmEvalMetric {
  metric: string;
  value: number;
  stderr: number | null;
  /** value ± 1.96 standard errors where there is one (n = the items lm-eval scored). */
  estimate: Estimate | null;
}

export interface LmEvalSummary {
  suite: 'lmEval';
  label: string;
  /** Per task (and group) lm-eval ran: its items and its metrics, "acc,none" style names as lm-eval reports them. */
  tasks: { task: string; items: number; metrics: LmEvalMetric[] }[];
  lmEvalVersion: string;
}

/** The engine spec of a run-lm-eval job (engine/schemas/run-lm-eval.schema.json). */
export function lmEvalSpec(store: Store, input: LmEvalInput) {
  const dir = `${input.run}/eval/${input.label}`;
  return {
    model: store.path(input.model.uri),
    tasks: input.tasks,
    output: store.path(`${dir}/lm-eval.json`),
    samples: store.path(`${dir}/lm-eval.samples.jsonl`),
    limit: input.limit,
    num_fewshot: input.numFewshot,
    batch_size: input.batchSize,
    device: input.device === 'auto' ? 'cpu' : input.device,
    include_path: input.includePath,
    apply_chat_template: input.applyChatTemplate,
    seed: input.seed,
  };
}

interface LmEvalOutput {
  lm_eval_version: string;
  tasks: Record<string, { metrics: Record<string, number | null>; n_samples: { effective: number } }>;
  groups?: Record<string, { metrics: Record<string, number | null> }>;
}


export function createLmEvalActivities(store: Store, engine: Engine, slotEnv: Record<string, string>) {
  return {
    async runLmEval(input: LmEvalInput): Promise<LmEvalSummary> {
      const spec = lmEvalSpec(store, input);
      await runEngineJob(engine, 'run-lm-eval', spec, `${spec.output}.spec.json`, slotEnv);
      const out = JSON.parse(await readFile(spec.output, 'utf8')) as LmEvalOutput;
      const summarize = (task: string, metrics: Record<string, number | null>, items: number) => ({
        task,
        items,
        metrics: Object.entries(metrics)
          .filter(([name, value]) => !name.includes('_stderr,') && typeof value === 'number')
          .map(([name, value]) => {
            const [metric, filter] = name.split(',');
            const stderr = metrics[`${metric}_stderr,${filter}`] ?? null;
            const estimate = stderr === null ? null : { value: value as number, low: (value as number) - Z95 * stderr, high: (value as number) + Z95 * stderr, n: items };
            return { metric: name, value: value as number, stderr, estimate };
          }),
      });
      return {
        suite: 'lmEval',
        label: input.label,
        tasks: [
          ...Object.entries(out.tasks).map(([task, t]) => summarize(task, t.metrics, t.n_samples?.effective ?? 0)),
          ...Object.entries(out.groups ?? {}).map(([group, g]) => summarize(group, g.metrics, 0)),
        ],
        lmEvalVersion: out.lm_eval_version,
      };
    },
  };
}
