/**
 * Runs an engine job from inside an activity: progress becomes heartbeats (so a dead worker is noticed within
 * the heartbeat timeout, and the Web UI shows how far a stage is), cancellation kills the job, and engine
 * errors become Temporal failures that say whether a retry can help.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { EngineError, type Engine, type EngineEvent, type EngineJob } from '../engine/runner.js';
import { ErrorType } from '../errors.js';
import { HEARTBEAT_EVERY_S } from '../heartbeat.js';
import { observeEngineJob } from './metrics.js';

/** How often we heartbeat while a job is alive but quiet (loading a model, a long training step). */
const HEARTBEAT_EVERY_MS = HEARTBEAT_EVERY_S * 1000;

export interface JobProgress {
  job: EngineJob;
  stage?: string;
  done?: number;
  total?: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
}

export async function runEngineJob(
  engine: Engine,
  job: EngineJob,
  spec: Record<string, unknown>,
  specPath: string,
  env?: Record<string, string>,
  processes?: number,
): Promise<EngineEvent> {
  const ctx = Context.current();
  let last: JobProgress = { job, stage: 'starting' };
  const beat = () => ctx.heartbeat(last);
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  // Durations, throughput and loss for Prometheus (src/activities/metrics.ts); a no-op without an exporter.
  const metrics = observeEngineJob(job, specPath);
  try {
    const result = await engine.run(job, spec, {
      specPath,
      env,
      ...(processes !== undefined ? { processes } : {}),
      signal: ctx.cancellationSignal,
      onProgress: (event) => {
        last = toProgress(job, event);
        beat();
        metrics.progress(event);
      },
    });
    metrics.finished({ result });
    return result;
  } catch (err) {
    metrics.finished({ error: err, cancelled: (err instanceof EngineError && err.kind === 'cancelled') || ctx.cancellationSignal.aborted });
    throw toFailure(err);
  } finally {
    clearInterval(timer);
  }
}

function toProgress(job: EngineJob, e: EngineEvent): JobProgress {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    job,
    stage: typeof e.stage === 'string' ? e.stage : 'running',
    done: num(e.done),
    total: num(e.total),
    step: num(e.step),
    totalSteps: num(e.total_steps),
    loss: num(e.loss),
  };
}

export function toFailure(err: unknown): unknown {
  if (!(err instanceof EngineError)) return err;
  const details = err.stderrTail ? [err.stderrTail.slice(-4000)] : [];
  switch (err.kind) {
    case 'bad_input':
      return ApplicationFailure.create({ type: ErrorType.BadInput, message: err.message, nonRetryable: true, details });
    case 'model_load':
      return ApplicationFailure.create({ type: ErrorType.ModelLoad, message: err.message, nonRetryable: true, details });
    case 'out_of_memory':
      return ApplicationFailure.create({ type: ErrorType.OutOfMemory, message: err.message, details });
    case 'cancelled':
      return err;
    default:
      return ApplicationFailure.create({ type: ErrorType.EngineCrashed, message: err.message, details });
  }
}
