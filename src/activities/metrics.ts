/**
 * isheep's own Prometheus metrics. They are recorded through the running activity's metric meter
 * (Context.current().metricMeter), so they leave through the same exporter as the Temporal SDK's own metrics, on
 * the one port of `isheep worker --metrics-port` (src/worker/telemetry.ts), with the SDK's tags (namespace,
 * taskQueue, activityType) and, on model workers, the slot (src/worker/workers.ts). Without a metrics exporter
 * the meter is the SDK's no-op one and all of this costs nothing.
 *
 *   isheep_engine_job_seconds{job,stage,outcome}        histogram: wall time of each engine job (ok|failed|cancelled)
 *   isheep_generation_rows_per_second{stage}            gauge: live while a generate job runs, then its final figure
 *   isheep_generation_tokens_per_second{stage}          gauge: the same for new tokens
 *   isheep_generated_rows_total{stage}                  counter: rows generated (not taken over from a partial file)
 *   isheep_generated_tokens_total{stage}                counter: new tokens generated
 *   isheep_train_loss{run} / isheep_train_eval_loss{run} gauges: live from the train job's progress, then its result
 *   isheep_train_step{run}                              gauge: the optimizer step the train job is at
 *   isheep_stage_rows_in_total{stage}                   counter: rows into a filtering stage (synthesis, rule_filter, assessment)
 *   isheep_stage_rows_kept_total{stage}                 counter: rows it kept
 *   isheep_stage_rows_dropped_total{stage,reason}       counter: rows it dropped, by reason
 *   isheep_stage_keep_ratio{run,stage}                  gauge: kept / in of the stage's last activity
 *   isheep_judgments_total{stage}                       counter: judgments read (self-assessment, MT-Bench, AlpacaEval)
 *   isheep_unparsable_judgments_total{stage}            counter: of those, the ones no score could be read from
 */
import { Context } from '@temporalio/activity';
import { noopMetricMeter, type MetricMeter, type MetricTags } from '@temporalio/common';
import type { EngineEvent, EngineJob } from '../engine/runner.js';

/** Bucket bounds of our histograms (seconds), given to the exporter by src/worker/telemetry.ts. */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  isheep_engine_job_seconds: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800],
};

/** The meter of the running activity; the no-op meter outside one (a stage function called from a test). */
function meter(): MetricMeter {
  try {
    return Context.current().metricMeter;
  } catch {
    return noopMetricMeter;
  }
}

/** Metrics never fail the work they measure. */
function safely<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      fn(...args);
    } catch {
      // a meter whose runtime is shutting down: the figure is lost, the job goes on
    }
  };
}

/** Counters take whole numbers. */
const whole = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The run and the stage an artifact belongs to, from its store path (an engine spec's path is its output's plus
 * `.spec.json`): runs/<run>/iter-<t>/synthesis/round-<r>.raw.jsonl → synthesis, …/responses.raw.jsonl →
 * responses, …/assessment/<kind>.raw.jsonl → assessment_<kind>, …/iter-<t>/model → train,
 * runs/<run>/eval/<label>/mtbench.turn1.raw.jsonl → eval_mtbench_turn1 (the other suites alike),
 * runs/<run>/eval/<label>.raw.jsonl → eval_smoke, models/… → import. Shards count as their stage.
 */
export function stageOf(path: string): { run: string | null; stage: string } {
  const p = path.replace(/\\/g, '/').replace(/\.spec\.json$/, '').replace(/\.shards\/.*$/, '');
  const run = /(?:^|\/)runs\/([^/]+)\/(.+)$/.exec(p);
  if (!run) return { run: null, stage: /(?:^|\/)models\/[^/]+$/.test(p) ? 'import' : 'other' };
  const [, name, rest] = run as unknown as [string, string, string];
  const known: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^iter-\d+\/synthesis\/round-\d+\.raw\.jsonl$/, () => 'synthesis'],
    [/^iter-\d+\/responses\.raw\.jsonl$/, () => 'responses'],
    [/^iter-\d+\/assessment\/(\w+)\.raw\.jsonl$/, (m) => `assessment_${m[1]}`],
    [/^iter-\d+\/model$/, () => 'train'],
    [/^eval\/[^/]+\.raw\.jsonl$/, () => 'eval_smoke'],
    // IFEval's answers and MT-Bench's turn-1 answers, made by one job (workflows/evaluate.ts)
    [/^eval\/[^/]+\/first-answers\.[^/]*$/, () => 'eval_first_answers'],
    // eval/<label>/<suite>[.<turn1|turn2|judge>].<what>.jsonl, and eval/<suite>.<what>.jsonl (files of the whole run)
    [/^eval\/(?:[^/]+\/)?([a-z0-9]+)(?:\.(turn\d|judge))?\.[^/]*$/, (m) => `eval_${m[1]}${m[2] ? `_${m[2]}` : ''}`],
  ];
  for (const [pattern, stage] of known) {
    const m = pattern.exec(rest);
    if (m) return { run: name, stage: stage(m) };
  }
  return { run: name, stage: 'other' };
}

export interface EngineJobObserver {
  progress(event: EngineEvent): void;
  /** The job's result event, or the error it failed with. */
  finished(outcome: { result: EngineEvent } | { error: unknown; cancelled: boolean }): void;
}

/**
 * Metrics of one engine job: its duration by job and stage; for generate, live and final throughput and the
 * rows and tokens made; for train, the loss as it goes and at the end.
 */
export function observeEngineJob(job: EngineJob, specPath: string): EngineJobObserver {
  const m = meter();
  const { run, stage } = stageOf(specPath);
  const started = performance.now();
  const tags: MetricTags = { stage };
  const runTags: MetricTags = { run: run ?? 'none' };
  let resumedRows = 0;
  const rowsPerSecond = () => m.createGauge('isheep_generation_rows_per_second', 'float', 'rows/s', 'rows per second of the running (else the last) generate job of a stage, on this slot');
  const tokensPerSecond = () => m.createGauge('isheep_generation_tokens_per_second', 'float', 'tokens/s', 'new tokens per second of the running (else the last) generate job of a stage, on this slot');
  const trainLoss = () => m.createGauge('isheep_train_loss', 'float', '', 'training loss of the running (else the last) train job of a run');
  const evalLoss = () => m.createGauge('isheep_train_eval_loss', 'float', '', 'validation loss of the running (else the last) train job of a run');
  return {
    progress: safely((e: EngineEvent) => {
      if (job === 'generate') {
        if (finite(e.resumed)) resumedRows = e.resumed;
        if (finite(e.done) && finite(e.elapsed_s) && e.elapsed_s > 0) {
          rowsPerSecond().set(Math.max(0, e.done - resumedRows) / e.elapsed_s, tags);
          if (finite(e.new_tokens)) tokensPerSecond().set(e.new_tokens / e.elapsed_s, tags);
        }
      } else if (job === 'train') {
        if (finite(e.loss)) trainLoss().set(e.loss, runTags);
        if (finite(e.eval_loss)) evalLoss().set(e.eval_loss, runTags);
        if (finite(e.step)) m.createGauge('isheep_train_step', 'int', 'steps', 'optimizer step of the running (else the last) train job of a run').set(e.step, runTags);
      }
    }),
    finished: safely((outcome: { result: EngineEvent } | { error: unknown; cancelled: boolean }) => {
      const seconds = (performance.now() - started) / 1000;
      const result = 'result' in outcome ? outcome.result : null;
      const status = result ? 'ok' : 'cancelled' in outcome && outcome.cancelled ? 'cancelled' : 'failed';
      m.createHistogram('isheep_engine_job_seconds', 'float', 's', 'wall time of engine jobs, by job, stage and outcome').record(seconds, { job, stage, outcome: status });
      if (!result) return;
      if (job === 'generate') {
        const newTokens = finite(result.new_tokens) ? result.new_tokens : 0;
        const rows = result.reused === true ? 0 : Math.max(0, (finite(result.rows) ? result.rows : 0) - resumedRows);
        m.createCounter('isheep_generated_rows_total', 'rows', 'rows generated by engine jobs (not those taken over from a partial file)').add(whole(rows), tags);
        m.createCounter('isheep_generated_tokens_total', 'tokens', 'new tokens generated by engine jobs').add(whole(newTokens), tags);
        // tokens_per_s is over the time spent generating (model loading excluded): rows per second over the same time.
        const generating = finite(result.tokens_per_s) && result.tokens_per_s > 0 ? newTokens / result.tokens_per_s : finite(result.elapsed_s) ? result.elapsed_s : 0;
        if (generating > 0 && rows > 0) {
          rowsPerSecond().set(rows / generating, tags);
          tokensPerSecond().set(finite(result.tokens_per_s) && result.tokens_per_s > 0 ? result.tokens_per_s : newTokens / generating, tags);
        }
      } else if (job === 'train') {
        if (finite(result.train_loss)) trainLoss().set(result.train_loss, runTags);
        if (finite(result.eval_loss)) evalLoss().set(result.eval_loss, runTags);
      }
    }),
  };
}

/** The counts of a filtering stage (ISHEEP.md steps 2, 4, 6): what went in, what was kept, what was dropped and why. */
export const recordStageCounts = safely((runDir: string, stage: 'synthesis' | 'rule_filter' | 'assessment', counts: { in: number; kept: number; dropped: Record<string, number> }): void => {
  const m = meter();
  const run = runDir.replace(/^runs\//, ''); // the activities' `run` is the run's folder, runs/<name>
  m.createCounter('isheep_stage_rows_in_total', 'rows', 'rows into a filtering stage').add(whole(counts.in), { stage });
  m.createCounter('isheep_stage_rows_kept_total', 'rows', 'rows a filtering stage kept').add(whole(counts.kept), { stage });
  const dropped = m.createCounter('isheep_stage_rows_dropped_total', 'rows', 'rows a filtering stage dropped, by reason');
  for (const [reason, n] of Object.entries(counts.dropped)) if (n > 0) dropped.add(whole(n), { stage, reason });
  if (counts.in > 0) m.createGauge('isheep_stage_keep_ratio', 'float', '', "kept / in of a stage's last activity in a run").set(counts.kept / counts.in, { run, stage });
});

/** Judgments read from a judge's replies, and how many of them gave no score. */
export const recordJudgments = safely((stage: string, total: number, unparsable: number, m: MetricMeter = meter()): void => {
  m.createCounter('isheep_judgments_total', 'judgments', 'judgments read from a grader or judge').add(whole(total), { stage });
  m.createCounter('isheep_unparsable_judgments_total', 'judgments', 'judgments no score could be read from').add(whole(unparsable), { stage });
});
