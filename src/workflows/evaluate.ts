/**
 * Evaluating one model (the base model, or M_t after training) on the run's suites, in workflow code: each
 * suite's requests are built on the CPU queue, generated in shards on the model slots, and scored on the CPU
 * queue. The returned summaries go into the iteration's data card; `metricOf` reads the figure a run selects its
 * best iteration by.
 */
import type { EvalScore } from '../activities/data.js';
import type { AlpacaEvalSummary } from '../activities/alpaca-eval.js';
import type { IfevalSummary, MtBenchScores } from '../activities/evaluation.js';
import type { HumanEvalSummary } from '../activities/humaneval.js';
import type { LmEvalSummary } from '../activities/lm-eval.js';
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import type { EvalMetric, RunConfig, Sampling } from '../config/schema.js';
import { ALPACA_EVAL_JUDGE_SAMPLING, ALPACA_EVAL_TOP_LOGPROBS } from '../stages/alpaca-eval.js';
import { HUMANEVAL_STOP } from '../stages/humaneval.js';
import { patched } from '@temporalio/workflow';
import type { activitiesFor } from './activities.js';
import type { Generate, GenerateOptions } from './generation.js';
import { EVAL_FIRST_ANSWERS_PATCH } from './patches.js';

/** What each enabled suite found for one model. */
export interface SuiteSummaries {
  ifeval?: IfevalSummary;
  mtBench?: MtBenchScores;
  alpacaEval?: AlpacaEvalSummary;
  humanEval?: HumanEvalSummary;
  lmEval?: LmEvalSummary;
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
  /** The base model M_0 (the default MT-Bench judge). */
  base: ModelRef;
  /** Resolves when the run is not paused (model jobs other than generation wait for it too). */
  unpaused?: () => Promise<void>;
}

/** The suites that read benchmark files (and so need resolveEvalData at the start of the run). */
export function suitesNeedingData(config: RunConfig): string[] {
  const suites = config.evaluation.suites;
  return [
    ...(suites.ifeval.enabled ? ['ifeval'] : []),
    ...(suites.mtBench.enabled ? ['mtBench'] : []),
    ...(suites.alpacaEval?.enabled ? ['alpacaEval'] : []),
    ...(suites.alpacaEval?.enabled && suites.alpacaEval.references.includes('text_davinci_003') ? ['alpacaEval.text_davinci_003'] : []),
  ];
}

// Configs recorded before AlpacaEval and HumanEval existed (the input of runs started then) lack their keys:
// `?.` reads them as disabled, as the schema's defaults would.
export async function evaluateModel(ctx: EvaluationContext, label: string, model: ModelRef, chat: boolean): Promise<SuiteSummaries> {
  const { config, run, activities, generate } = ctx;
  const { data, evaluation } = activities;
  const suites = config.evaluation.suites;
  const sampling = config.evaluation.sampling;
  const out: SuiteSummaries = {};
  // The judge of MT-Bench and AlpacaEval: the model under test, the base model, or an external endpoint.
  const judge = config.evaluation.judge;
  const judged = (stage: string, requests: ArtifactRef, output: string, judgeSampling: Sampling, options?: GenerateOptions) =>
    generate(stage, judge.grader === 'current' ? model : ctx.base, requests, output, judgeSampling, ctx.seed, judge.grader === 'external' ? judge.endpoint : undefined, options);
  const dir = `${run}/eval/${label}`;
  const ifevalSubset = { dir: ctx.dataDir!, limit: suites.ifeval.limit, seed: config.seed };
  const mtBenchSubset = { dir: ctx.dataDir!, limit: suites.mtBench.limit, seed: config.seed };
  // IFEval's answers and MT-Bench's turn-1 answers come from the same model with the same sampling, so they are one
  // generation job, split back into each suite's file: one batch of rows instead of a second, small one (on CPU a
  // 4-row batch costs most of what a 28-row one does).
  let ifevalResponses: ArtifactRef | undefined;
  let turn1Responses: ArtifactRef | undefined;
  if (suites.ifeval.enabled && suites.mtBench.enabled && patched(EVAL_FIRST_ANSWERS_PATCH)) {
    const parts = [
      await evaluation.buildIfevalRequests({ run, label, chat, ...ifevalSubset }),
      await evaluation.buildMtBenchRequests({ run, label, chat, turn: 1, ...mtBenchSubset }),
    ];
    const joint = await evaluation.joinRequests({ parts, path: `${dir}/first-answers.requests.jsonl` });
    const answers = await generate('evaluation ifeval + mt-bench turn 1', model, joint, `${dir}/first-answers.raw.jsonl`, sampling, ctx.seed);
    [ifevalResponses, turn1Responses] = await evaluation.splitGenerations({ generations: answers, parts });
  }
  if (suites.ifeval.enabled) {
    let responses = ifevalResponses;
    if (!responses) {
      const requests = await evaluation.buildIfevalRequests({ run, label, chat, ...ifevalSubset });
      responses = await generate(`evaluation ifeval`, model, requests, `${dir}/ifeval.raw.jsonl`, sampling, ctx.seed);
    }
    out.ifeval = await evaluation.scoreIfeval({ run, label, responses, ...ifevalSubset });
  }
  if (suites.mtBench.enabled) {
    // Turn 2 sees the model's own turn-1 answer; then the judge grades each turn (FastChat single-answer grading).
    const subset = mtBenchSubset; // the MT-Bench activities below all take it
    let turn1 = turn1Responses;
    if (!turn1) {
      const turn1Requests = await evaluation.buildMtBenchRequests({ run, label, chat, turn: 1, ...subset });
      turn1 = await generate('evaluation mt-bench turn 1', model, turn1Requests, `${dir}/mtbench.turn1.raw.jsonl`, sampling, ctx.seed);
    }
    const turn2Requests = await evaluation.buildMtBenchRequests({ run, label, chat, turn: 2, turn1, ...subset });
    const turn2 = await generate('evaluation mt-bench turn 2', model, turn2Requests, `${dir}/mtbench.turn2.raw.jsonl`, sampling, ctx.seed);
    // Configs recorded before answerPrefix existed lack it: no prefill, as before.
    const answerPrefix = judge.answerPrefix ?? null;
    const judgeRequests = await evaluation.buildMtBenchJudgeRequests({ run, label, turn1, turn2, answerPrefix, ...subset });
    const judgments = await judged('evaluation mt-bench judge', judgeRequests, `${dir}/mtbench.judge.raw.jsonl`, config.evaluation.judge.sampling);
    out.mtBench = await evaluation.scoreMtBench({ run, label, judgments, answerPrefix, ...subset });
  }
  if (suites.alpacaEval?.enabled) {
    // The model answers; the judge compares each answer with every baseline, in both orders.
    const a = suites.alpacaEval;
    const subset = { run, label, dir: ctx.dataDir!, limit: a.limit, seed: config.seed, references: a.references };
    const requests = await evaluation.buildAlpacaEvalRequests({ ...subset, chat });
    const outputs = await generate('evaluation alpaca-eval', model, requests, `${run}/eval/${label}/alpacaeval.raw.jsonl`, sampling, ctx.seed);
    const pairs = await evaluation.buildAlpacaEvalJudgeRequests({ ...subset, outputs, againstPrevious: a.againstPrevious, againstBase: a.againstBase });
    const judgments = pairs.requests
      ? await judged('evaluation alpaca-eval judge', pairs.requests, `${run}/eval/${label}/alpacaeval.judge.raw.jsonl`, { ...ALPACA_EVAL_JUDGE_SAMPLING, topP: 1 }, {
          topLogprobs: ALPACA_EVAL_TOP_LOGPROBS,
        })
      : null;
    out.alpacaEval = await evaluation.scoreAlpacaEval({ ...subset, outputs, baselines: pairs.baselines, judgments });
  }
  if (suites.humanEval?.enabled) {
    // Programs run on the CPU worker, in the engine's sandbox; a continuation stops where the function ends.
    const h = suites.humanEval;
    const subset = { run, label, limit: h.limit, seed: config.seed, chat };
    const requests = await evaluation.buildHumanEvalRequests(subset);
    const responses = await generate('evaluation humaneval', model, requests, `${run}/eval/${label}/humaneval.raw.jsonl`, sampling, ctx.seed, undefined, chat ? {} : { stop: [...HUMANEVAL_STOP] });
    out.humanEval = await evaluation.scoreHumanEval({ ...subset, responses, timeoutSeconds: h.timeoutSeconds, memoryMb: h.memoryMb, allowNetwork: h.allowNetwork });
  }
  if (suites.lmEval?.enabled) {
    // lm-eval loads the model itself: a model job on a slot, on the model folder (the merged model after training).
    const l = suites.lmEval;
    await ctx.unpaused?.();
    out.lmEval = await activities.modelJobs.runLmEval({
      model,
      run,
      label,
      tasks: l.tasks,
      limit: l.limit,
      numFewshot: l.numFewshot,
      batchSize: l.batchSize,
      device: config.model.device,
      includePath: l.includePath,
      applyChatTemplate: l.applyChatTemplate,
      seed: config.seed,
    });
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
  const [suite, figure] = metric.split('.') as ['ifeval' | 'mtBench' | 'alpacaEval' | 'humanEval' | 'smoke', string];
  if (suite === 'alpacaEval') {
    // Against the first reference (AlpacaEval 2.0's GPT-4 Turbo outputs by default).
    const c = summaries?.alpacaEval?.comparisons[0];
    if (!c || c.winRate.n === 0) return null;
    return figure === 'lcWinRate' ? c.lcWinRate : c.winRate.value;
  }
  if (suite === 'humanEval') {
    const e = summaries?.humanEval?.passAt1;
    return e && e.n > 0 ? e.value : null;
  }
  if (suite === 'ifeval') {
    const e = summaries?.ifeval?.[figure as 'promptStrict'];
    return e && e.n > 0 ? e.value : null;
  }
  if (suite === 'mtBench') {
    const e = summaries?.mtBench?.[`${figure}Score` as 'overallScore'];
    return e && e.n > 0 ? e.value : null;
  }
  const s = summaries?.smoke;
  return s ? s.promptStrict : null;
}
