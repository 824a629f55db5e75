/**
 * iSheepRun: a whole I-SHEEP run, t = 1..T, one child workflow per iteration.
 * Its one argument is a JSON config (the Web UI's "Start Workflow" form can send it); it is validated here,
 * and a bad one fails the run at once, naming every bad field.
 * Control: pause / resume / stopAfterIteration signals and a setIterations update; progress query.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import type { EvalScore } from '../activities/data.js';
import { parseRunInput } from '../config/input.js';
import { ConfigError, cpuScaleRefusal, generationBackend, type EvalMetric, type RunConfig } from '../config/schema.js';
import type { ReportInput } from '../report/document.js';
import type { Estimate } from '../stages/stats.js';
import { evaluateModel, metricOf, suitesNeedingData } from './evaluate.js';
import { shardedGenerator } from './generation.js';
import { CPU_SCALE_PATCH, EVAL_SUITES_PATCH, REPORT_EACH_ITERATION_PATCH, RUN_IDENTITY_PATCH, SEARCH_ATTRIBUTES_PATCH } from './patches.js';
import { ErrorType } from '../errors.js';
import { activitiesFor } from './activities.js';
import { iSheepIteration } from './iteration.js';
import { pauseSignal, resumeSignal, runProgressQuery, setIterationsUpdate, stopAfterIterationSignal } from './messages.js';
import { formatMetric, renderReport } from './report.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from './search-attributes.js';
import type { IterationCard, IterationSummary, RunProgress, RunResult } from './types.js';

export async function iSheepRun(rawConfig: unknown): Promise<RunResult> {
  const config = validate(rawConfig);
  const activities = activitiesFor(config.engine);
  const { data, evaluation, modelJobs } = activities;
  const run = `runs/${config.name}`;
  const progress: RunProgress = {
    stage: 'preparing',
    iteration: 0,
    iterations: config.iterations,
    paused: false,
    stopAfterIteration: false,
    baseline: null,
    summaries: [],
  };
  const childId = (t: number) => `${workflowInfo().workflowId}.iter-${t}`;
  let childRunning = false;
  /** Pause and resume reach the running iteration too, which is where the model jobs are started. */
  const forward = async (signal: typeof pauseSignal | typeof resumeSignal) => {
    if (childRunning) await getExternalWorkflowHandle(childId(progress.iteration)).signal(signal);
  };
  setHandler(runProgressQuery, () => progress);
  setHandler(pauseSignal, async () => {
    progress.paused = true;
    await forward(pauseSignal);
  });
  setHandler(resumeSignal, async () => {
    progress.paused = false;
    await forward(resumeSignal);
  });
  setHandler(stopAfterIterationSignal, () => void (progress.stopAfterIteration = true));
  setHandler(
    setIterationsUpdate,
    (n) => {
      progress.iterations = n;
      return n;
    },
    {
      validator: (n) => {
        if (!Number.isInteger(n) || n < Math.max(1, progress.iteration) || n > 1000) {
          throw new Error(`iterations must be a whole number from ${Math.max(1, progress.iteration)} (the running iteration) to 1000, got ${n}`);
        }
      },
    },
  );

  // Search attributes only when the starter set them: a cluster where they are not registered would
  // otherwise fail every workflow task. `isheep start` and the dev server register them.
  let searchable = workflowInfo().typedSearchAttributes.get(STAGE_ATTRIBUTE) !== undefined;
  const mark = (stage: string, iteration: number) => {
    if (searchable) {
      upsertSearchAttributes([
        { key: STAGE_ATTRIBUTE, value: stage },
        { key: ITERATION_ATTRIBUTE, value: iteration },
      ]);
    }
  };

  // Runs started before run identity existed replay without it (they wrote no owner file). A wrong workflow id is
  // refused before any activity is scheduled.
  const identity = patched(RUN_IDENTITY_PATCH);
  const { workflowId, runId } = workflowInfo();
  if (identity && workflowId !== config.name) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidConfig,
      message: `the workflow id must be the run name: this run's workflow id is ${JSON.stringify(workflowId)} and its name ${JSON.stringify(config.name)}; start it with workflow id ${JSON.stringify(config.name)}`,
      nonRetryable: true,
    });
  }
  // Sizes that would take CPUs days, on slots without a GPU: refused before the run claims its name.
  if (patched(CPU_SCALE_PATCH)) {
    const refusal = cpuScaleRefusal(config);
    if (refusal !== null && (await modelJobs.describeSlot()).gpus === 0) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message: refusal, nonRetryable: true });
    }
  }
  if (identity) await data.claimRunFolder({ run, name: config.name, workflowId, runId, config, resume: config.resume });
  // A run started without search attributes (from the Web UI's form) sets them itself where they are registered.
  if (patched(SEARCH_ATTRIBUTES_PATCH) && !searchable) searchable = await activities.namespace.searchAttributesRegistered();

  // The suites' benchmark files are found first: a run whose data is nowhere fails now, not after an iteration.
  const suites = patched(EVAL_SUITES_PATCH);
  const needData = config.evaluation.enabled && suites ? suitesNeedingData(config) : [];
  const evalDataDir = needData.length > 0 ? (await evaluation.resolveEvalData({ data: config.evaluation.data, suites: needData, fetch: config.evaluation.fetch ?? false })).dir : null;
  // Runs started before it write their report once, at the end, with writeDocument (JSON and Markdown only).
  const reportEachIteration = patched(REPORT_EACH_ITERATION_PATCH);

  const seeds = await data.loadSeeds({ run, file: config.seeds.file });
  const base = await modelJobs.prepareModel({ source: config.model.base });

  const select = config.evaluation.select;
  progress.best = null;
  progress.stoppedEarly = null;
  const baselineGeneration: IterationCard['generation'] = [];
  if (config.evaluation.enabled) {
    progress.stage = 'baseline';
    mark('baseline', 0);
    if (suites) {
      const generate = shardedGenerator({
        config,
        activities,
        unpaused: () => condition(() => !progress.paused),
        shards: { done: 0, total: 0 },
        generation: baselineGeneration,
        label: 'base model',
      });
      progress.baselineSuites = await evaluateModel({ config, run, dataDir: evalDataDir, activities, generate, seed: config.seed, base }, 'base', base, config.model.baseChatTemplate);
      const value = metricOf(progress.baselineSuites, select);
      if (value !== null) progress.best = { iteration: 0, metric: select, value, model: base };
    } else {
      progress.baseline = await evaluate(config, run, 'base', base, config.model.baseChatTemplate);
    }
  }

  progress.stage = 'iterating';
  let current: ModelRef = base;
  const kept: ArtifactRef[] = [];
  const cards: IterationCard[] = [];
  for (let t = 1; t <= progress.iterations && !progress.stopAfterIteration; t++) {
    await condition(() => !progress.paused);
    progress.iteration = t;
    mark('iterating', t);
    childRunning = true;
    const result = await executeChild(iSheepIteration, {
      workflowId: childId(t),
      // Earlier kept sets only where the policy trains on them: the parent's history then grows linearly.
      args: [
        {
          config, run, iteration: t, base, current, seeds,
          earlierKept: config.training.policy === 'total_base' ? kept : [],
          paused: progress.paused,
          ...(suites ? { evalDataDir } : {}),
        },
      ],
    }).finally(() => (childRunning = false));
    current = result.model;
    if (result.kept) kept.push(result.kept);
    cards.push(result.card);
    const summary = summarize(result.card, result.model, select);
    if (suites && result.card.suites?.ifeval) summary.deltas = await ifevalDeltas(t);
    progress.summaries.push(summary);
    const stop = suites && stopsEarly(t, metricOf(result.card.suites, select), result.model);
    if (reportEachIteration) await data.writeReport(reportInput(false, summary));
    if (stop) break;
  }

  progress.stage = 'reporting';
  mark('reporting', progress.iteration);
  const report = reportEachIteration
    ? await data.writeReport(reportInput(true, null))
    : await data.writeDocument({
        uri: `${run}/report`,
        document: {
          config,
          baseline: progress.baseline,
          ...(suites ? { baselineSuites: progress.baselineSuites ?? null, best: progress.best, stoppedEarly: progress.stoppedEarly } : {}),
          summaries: progress.summaries,
          cards,
        },
        markdown: renderReport(config.name, progress.baseline, progress.summaries, suites ? { baselineSuites: progress.baselineSuites, best: progress.best, stoppedEarly: progress.stoppedEarly } : {}),
      });
  progress.stage = 'done';
  mark('done', progress.iteration);
  // An update or signal handler still running would be cut off by the return.
  await condition(allHandlersFinished);
  if (!suites) return { name: config.name, store: run, baseline: progress.baseline, summaries: progress.summaries, finalModel: current, report };
  return {
    name: config.name,
    store: run,
    baseline: progress.baseline,
    baselineSuites: progress.baselineSuites,
    summaries: progress.summaries,
    // The best model by the selected metric is the run's result; the last one stays named beside it.
    finalModel: progress.best?.model ?? current,
    lastModel: current,
    best: progress.best,
    stoppedEarly: progress.stoppedEarly,
    report,
  };

  /** The report's input: `final` once no iteration is to come; `latest`, the iteration just finished (see ReportInput). */
  function reportInput(final: boolean, latest: IterationSummary | null): ReportInput {
    return {
      run,
      config,
      baseline: progress.baseline,
      ...(suites ? { baselineSuites: progress.baselineSuites ?? null, best: progress.best, stoppedEarly: progress.stoppedEarly } : {}),
      latest,
      iterations: progress.summaries.length,
      state: { final, iterations: progress.iterations },
    };
  }

  /** Records iteration t's metric; true when patience has run out (no gain over the best for that many iterations). */
  function stopsEarly(t: number, value: number | null, model: ModelRef): boolean {
    if (value !== null && (progress.best === null || progress.best === undefined || value > progress.best.value)) {
      progress.best = { iteration: t, metric: select, value, model };
    }
    const patience = config.evaluation.patience;
    const bestAt = progress.best?.iteration ?? 0;
    if (patience === null || t - bestAt < patience || t >= progress.iterations) return false;
    progress.stoppedEarly = `${select} has not improved on iteration ${bestAt}'s ${progress.best ? formatMetric(select, progress.best.value) : '–'} for ${t - bestAt} iteration(s) (evaluation.patience ${patience})`;
    return true;
  }

  /** The selected IFEval figure's gain of iteration t over the base model and over iteration 1, paired over items. */
  async function ifevalDeltas(t: number): Promise<{ vsBase: Estimate | null; vsFirst: Estimate | null }> {
    const [suite, figure] = select.split('.') as [string, 'promptStrict'];
    if (suite !== 'ifeval') return { vsBase: null, vsFirst: null };
    const against = async (a: string) => evaluation.ifevalDelta({ run, a, b: `iter-${t}`, figure, seed: config.seed });
    const vsBase = progress.baselineSuites?.ifeval ? await against('base') : null;
    const vsFirst = t > 1 && cards[0]?.suites?.ifeval ? await against('iter-1') : null;
    return { vsBase, vsFirst };
  }

  async function evaluate(cfg: RunConfig, runDir: string, label: string, model: ModelRef, chat: boolean): Promise<EvalScore> {
    const requests = await data.buildEvalRequests({ run: runDir, label, chat });
    const out = await modelJobs.generate({
      model,
      requests,
      output: `${runDir}/eval/${label}.raw.jsonl`,
      sampling: cfg.evaluation.sampling,
      seed: cfg.seed,
      batchSize: cfg.engine.batchSize,
      device: cfg.model.device,
      ...generationBackend(cfg),
    });
    return data.scoreEvaluation({ run: runDir, label, responses: out.output });
  }
}

function validate(raw: unknown): RunConfig {
  try {
    return parseRunInput(raw); // a "preset" in the input is merged under its fields
  } catch (err) {
    if (err instanceof ConfigError) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message: err.message, nonRetryable: true, details: err.issues });
    }
    throw err;
  }
}

function summarize(card: IterationCard, model: ModelRef, select: EvalMetric): IterationSummary {
  const selected = card.suites ? metricOf(card.suites, select) : null;
  return {
    iteration: card.iteration,
    instructions: card.synthesis.accepted,
    pairs: card.responses?.kept ?? 0,
    kept: card.assessment?.kept ?? 0,
    trainLoss: card.training && !card.training.skipped ? card.training.trainLoss : null,
    evalScore: card.suites ? selected : (card.evaluation?.promptStrict ?? null),
    ...(card.suites ? { suites: card.suites } : {}),
    model: model.uri,
    note: card.training?.skipped ? `not trained (${card.training.reason}); M_${card.iteration} = M_${card.iteration - 1}` : '',
  };
}
