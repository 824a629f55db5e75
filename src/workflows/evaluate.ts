/**
 * Evaluating one model (the base model, or M_t after training) on the run's suites, in workflow code: each
 * suite's requests are built on the CPU queue, generated in shards on the model slots, and scored on the CPU
 * queue. The returned summaries go into the iteration's data card; `metricOf` reads the figure a run selects its
 * best iteration by.
 */
import type { EvalScore } from '../activities/data.js';
import type { IfevalSummary } from '../activities/evaluation.js';
import type { ModelRef } from '../artifacts/store.js';
import type { EvalMetric, RunConfig } from '../config/schema.js';
import type { activitiesFor } from './activities.js';
import type { Generate } from './generation.js';

/** What each enabled suite found for one model. */
export interface SuiteSummaries {
  ifeval?: IfevalSummary;
  smoke?: EvalScore;
}

export interface EvaluationContext {
  config: RunConfig;
  run: string;
  /** The folder with the benchmark files (resolveEvalData), when a suite needs one. */
  dataDir: string | null;
  activities: ReturnType<typeof activitiesFor>;
  generate: Generate;
  /** Seed of the generation jobs (greedy decoding makes it matter little). */
  seed: number;
}

/** The suites that read benchmark files (and so need resolveEvalData at the start of the run). */
export function suitesNeedingData(config: RunConfig): string[] {
  return config.evaluation.suites.ifeval.enabled ? ['ifeval'] : [];
}

export async function evaluateModel(ctx: EvaluationContext, label: string, model: ModelRef, chat: boolean): Promise<SuiteSummaries> {
  const { config, run, activities, generate } = ctx;
  const { data, evaluation } = activities;
  const suites = config.evaluation.suites;
  const sampling = config.evaluation.sampling;
  const out: SuiteSummaries = {};
  if (suites.ifeval.enabled) {
    const subset = { dir: ctx.dataDir!, limit: suites.ifeval.limit, seed: config.seed };
    const requests = await evaluation.buildIfevalRequests({ run, label, chat, ...subset });
    const responses = await generate(`evaluation ifeval`, model, requests, `${run}/eval/${label}/ifeval.raw.jsonl`, sampling, ctx.seed);
    out.ifeval = await evaluation.scoreIfeval({ run, label, responses, ...subset });
  }
  if (suites.smoke.enabled) {
    const requests = await data.buildEvalRequests({ run, label, chat });
    const responses = await generate('evaluation smoke', model, requests, `${run}/eval/${label}.raw.jsonl`, sampling, ctx.seed);
    out.smoke = await data.scoreEvaluation({ run, label, responses });
  }
  return out;
}

/** The selected metric's value (higher is better), or null when its suite did not run. */
export function metricOf(summaries: SuiteSummaries | undefined, metric: EvalMetric): number | null {
  const [suite, figure] = metric.split('.') as ['ifeval' | 'smoke', string];
  if (suite === 'ifeval') {
    const e = summaries?.ifeval?.[figure as 'promptStrict'];
    return e && e.n > 0 ? e.value : null;
  }
  const s = summaries?.smoke;
  return s ? s.promptStrict : null;
}
