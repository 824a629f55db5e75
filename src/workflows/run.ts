/**
 * iSheepRun: a whole I-SHEEP run, t = 1..T, one child workflow per iteration.
 * Its one argument is a JSON config (the Web UI's "Start Workflow" form can send it); it is validated here,
 * and a bad one fails the run at once, naming every bad field.
 */
import { ApplicationFailure, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import type { EvalScore } from '../activities/data.js';
import { ConfigError, parseConfig, type RunConfig } from '../config/schema.js';
import { ErrorType } from '../errors.js';
import { data, modelJobs } from './activities.js';
import { iSheepIteration } from './iteration.js';
import { runProgressQuery } from './messages.js';
import { renderReport } from './report.js';
import type { IterationCard, IterationSummary, RunProgress, RunResult } from './types.js';

export async function iSheepRun(rawConfig: unknown): Promise<RunResult> {
  const config = validate(rawConfig);
  const run = `runs/${config.name}`;
  const progress: RunProgress = { stage: 'preparing', iteration: 0, iterations: config.iterations, baseline: null, summaries: [] };
  setHandler(runProgressQuery, () => progress);

  const seeds = await data.loadSeeds({ run, file: config.seeds.file });
  const base = await modelJobs.prepareModel({ source: config.model.base });

  if (config.evaluation.enabled) {
    progress.stage = 'baseline';
    progress.baseline = await evaluate(config, run, 'base', base, config.model.baseChatTemplate);
  }

  progress.stage = 'iterating';
  let current: ModelRef = base;
  const kept: ArtifactRef[] = [];
  const cards: IterationCard[] = [];
  for (let t = 1; t <= config.iterations; t++) {
    progress.iteration = t;
    const result = await executeChild(iSheepIteration, {
      workflowId: `${workflowInfo().workflowId}.iter-${t}`,
      args: [{ config, run, iteration: t, base, current, seeds, earlierKept: kept }],
    });
    current = result.model;
    if (result.kept) kept.push(result.kept);
    cards.push(result.card);
    progress.summaries.push(summarize(result.card, result.model));
  }

  progress.stage = 'reporting';
  const report = await data.writeDocument({
    uri: `${run}/report`,
    document: { config, baseline: progress.baseline, summaries: progress.summaries, cards },
    markdown: renderReport(config.name, progress.baseline, progress.summaries),
  });
  progress.stage = 'done';
  return { name: config.name, store: run, baseline: progress.baseline, summaries: progress.summaries, finalModel: current, report };
}

function validate(raw: unknown): RunConfig {
  try {
    return parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message: err.message, nonRetryable: true, details: err.issues });
    }
    throw err;
  }
}

async function evaluate(config: RunConfig, run: string, label: string, model: ModelRef, chat: boolean): Promise<EvalScore> {
  const requests = await data.buildEvalRequests({ run, label, chat });
  const out = await modelJobs.generate({
    model,
    requests,
    output: `${run}/eval/${label}.raw.jsonl`,
    sampling: config.evaluation.sampling,
    seed: config.seed,
    batchSize: config.engine.batchSize,
    device: config.model.device,
  });
  return data.scoreEvaluation({ run, label, responses: out.output });
}

function summarize(card: IterationCard, model: ModelRef): IterationSummary {
  return {
    iteration: card.iteration,
    instructions: card.synthesis.accepted,
    pairs: card.responses?.kept ?? 0,
    kept: card.assessment?.kept ?? 0,
    trainLoss: card.training && !card.training.skipped ? card.training.trainLoss : null,
    evalScore: card.evaluation?.promptStrict ?? null,
    model: model.uri,
    note: card.training?.skipped ? `not trained (${card.training.reason}); M_${card.iteration} = M_${card.iteration - 1}` : '',
  };
}
