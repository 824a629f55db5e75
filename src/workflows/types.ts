/** Plain-JSON shapes the workflows keep and return (they cross Temporal, so no Maps, no classes). */
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import type { RunConfig } from '../config/schema.js';
import type { EvalScore, StageCounts, SynthesisCounts } from '../activities/data.js';
import type { LengthStats } from '../stages/export.js';
import type { Estimate } from '../stages/stats.js';
import type { SuiteSummaries } from './evaluate.js';

export type IterationStage =
  | 'synthesizing'
  | 'responding'
  | 'filtering'
  | 'assessing'
  | 'selecting'
  | 'training'
  | 'evaluating'
  | 'done';

/** The data card of one iteration: counts in and out of every stage, and why things were dropped. */
export interface IterationCard {
  iteration: number;
  model: string;
  synthesis: SynthesisCounts & { rounds: number; target: number };
  responses?: StageCounts;
  assessment?: StageCounts & {
    histograms: { quality: number[]; following: number[] };
    /** Word lengths of the kept pairs' instructions and responses. */
    keptLengths?: { instruction: LengthStats; response: LengthStats };
  };
  training?:
    | { skipped: false; trainLoss: number; evalLoss: number | null; steps: number; trainSamples: number; valSamples: number; seconds: number }
    | { skipped: true; reason: string };
  /** The 24-prompt smoke evaluation of runs started before the suites existed. */
  evaluation?: EvalScore;
  /** M_t on each enabled suite (absent when training was skipped: M_t is M_{t-1}). */
  suites?: SuiteSummaries;
  /** Generation throughput of each generate job, for people tuning batch sizes. */
  generation: { stage: string; newTokens: number; tokensPerSecond: number; seconds: number; shards: number }[];
}

export interface IterationInput {
  config: RunConfig;
  run: string;
  iteration: number;
  base: ModelRef;
  /** M_{t-1}. */
  current: ModelRef;
  seeds: ArtifactRef;
  /** Kept pairs of earlier iterations (for the total_base policy). */
  earlierKept: ArtifactRef[];
  /** Start paused (the run was paused when this iteration began). */
  paused?: boolean;
  /** The folder with the benchmark files, found by the run at its start. */
  evalDataDir?: string | null;
}

export interface IterationResult {
  /** M_t (M_{t-1} again when training was skipped). */
  model: ModelRef;
  kept: ArtifactRef | null;
  card: IterationCard;
}

export interface IterationProgress {
  iteration: number;
  stage: IterationStage;
  paused: boolean;
  /** Shards of the current generation stage. */
  shards: { done: number; total: number };
  card: IterationCard;
}

/** One row of the per-iteration table. */
export interface IterationSummary {
  iteration: number;
  instructions: number;
  pairs: number;
  kept: number;
  trainLoss: number | null;
  /** The selected metric (evaluation.select), or the smoke score of older runs. */
  evalScore: number | null;
  /** Every suite's figures with intervals. */
  suites?: SuiteSummaries;
  /** The selected metric's gain over the base model and over iteration 1, paired over items (IFEval). */
  deltas?: { vsBase: Estimate | null; vsFirst: Estimate | null };
  model: string;
  /** Why a column is empty, e.g. training skipped because too few pairs were kept. */
  note: string;
}

export interface RunProgress {
  stage: 'preparing' | 'baseline' | 'iterating' | 'reporting' | 'done';
  iteration: number;
  /** Iterations planned (changed by the setIterations update, cut short by stopAfterIteration). */
  iterations: number;
  paused: boolean;
  stopAfterIteration: boolean;
  baseline: EvalScore | null;
  /** The base model on each enabled suite. */
  baselineSuites?: SuiteSummaries;
  summaries: IterationSummary[];
  /** The best model so far by evaluation.select (iteration 0 is the base model). */
  best?: BestIteration | null;
  /** Why the run ended before its planned iterations (evaluation.patience), if it did. */
  stoppedEarly?: string | null;
}

export interface BestIteration {
  iteration: number;
  metric: string;
  value: number;
  model: ModelRef;
}

export interface RunResult {
  name: string;
  store: string;
  baseline: EvalScore | null;
  baselineSuites?: SuiteSummaries;
  summaries: IterationSummary[];
  /** The best model by evaluation.select when the suites ran, else the last one. */
  finalModel: ModelRef;
  /** M_T, the model of the last iteration run. */
  lastModel?: ModelRef;
  best?: BestIteration | null;
  stoppedEarly?: string | null;
  report: string;
}
