/** What a run's report is made of: the document the run hands its report activity, and sample pairs from its artifacts. */
import type { EvalScore } from '../activities/data.js';
import type { RunConfig } from '../config/schema.js';
import type { SuiteSummaries } from '../workflows/evaluate.js';
import type { BestIteration, IterationCard, IterationSummary } from '../workflows/types.js';

/** runs/<name>/report.json: written after every iteration and at the end of the run. */
export interface RunReportDocument {
  config: RunConfig;
  /** The smoke score of the base model (runs started before the suites existed). */
  baseline: EvalScore | null;
  baselineSuites?: SuiteSummaries | null;
  best?: BestIteration | null;
  stoppedEarly?: string | null;
  summaries: IterationSummary[];
  cards: IterationCard[];
  /** Whether the run has ended (false while iterations are still to come), and the iterations it plans. Absent in reports of older runs, which were written only at the end. */
  state?: { final: boolean; iterations: number };
}

/**
 * What the run hands its writeReport activity after each iteration and at the end: the same size every time, so
 * the run's history grows linearly however many iterations it has. The latest iteration's summary is kept in its
 * folder (iter-<t>/summary.json); earlier summaries and every data card (iter-<t>/card.json) are read from the store.
 */
export interface ReportInput {
  run: string;
  config: RunConfig;
  baseline: EvalScore | null;
  /** Present (perhaps null) in runs with the evaluation suites, as in the document. */
  baselineSuites?: SuiteSummaries | null;
  best?: BestIteration | null;
  stoppedEarly?: string | null;
  /** The iteration that just finished, or null (the report at the end, after the last one was written). */
  latest: IterationSummary | null;
  /** Iterations finished so far: the report covers 1..iterations. */
  iterations: number;
  state: { final: boolean; iterations: number };
}

/** One pair shown in the report, with why it was dropped or the scores it was kept with. */
export interface SamplePair {
  id: string;
  instruction: string;
  input: string;
  response: string;
  /** The rule (rule filter) or the selection reason (assessment) that dropped it. */
  reason?: string;
  qualityScore?: number | null;
  followingScore?: number | null;
  qualityJudgment?: string | null;
  followingJudgment?: string | null;
}

/** A few pairs of one iteration: kept, dropped by the rule filter, dropped by the self-assessment. */
export interface IterationSamples {
  iteration: number;
  kept: SamplePair[];
  ruleDropped: SamplePair[];
  assessmentDropped: SamplePair[];
  /** Files that could not be read (a report never fails a run over its samples). */
  notes: string[];
}
