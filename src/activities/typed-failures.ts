/**
 * What an activity's errors become on their way to the workflow, and the data activities' heartbeat.
 *
 * Errors of the input (a bad seed file, a line over a limit, a folder owned by another run) and artifacts that
 * changed after they were written fail at once: a retry would read the same bytes. An artifact that is missing
 * is retried (on a shared store it may not be visible yet on this host). Anything else is a bug or the
 * machine's trouble and keeps the retry policy.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LineError } from '../artifacts/lines.js';
import { EvalDataError } from './eval-data.js';
import { RunFolderError } from './run-folder.js';
import { SeedFileError } from '../artifacts/seeds.js';
import { ArtifactError } from '../artifacts/store.js';
import { ErrorType } from '../errors.js';

export function toTypedFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SeedFileError || err instanceof LineError || err instanceof RunFolderError || err instanceof EvalDataError) {
    return ApplicationFailure.create({ type: ErrorType.BadInput, message: err.message, nonRetryable: true });
  }
  if (err instanceof ArtifactError) {
    return err.problem === 'missing'
      ? ApplicationFailure.create({ type: ErrorType.ArtifactMissing, message: err.message })
      : ApplicationFailure.create({ type: ErrorType.ArtifactCorrupt, message: err.message, nonRetryable: true });
  }
  return err;
}

/** Each activity with its errors turned into typed Temporal failures. */
export function withTypedFailures<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (input: never) => {
      try {
        return await fn(input);
      } catch (err) {
        throw toTypedFailure(err);
      }
    };
  }
  return wrapped as T;
}

const BEAT_EVERY_MS = 2000;
/** Per activity: several run side by side on the data worker. */
const lastBeat = new WeakMap<Context, number>();

/**
 * Heartbeats at most every 2 s from inside a data activity (a no-op outside one, e.g. in a benchmark), so a
 * worker that dies in a long pass over a stage is noticed within the heartbeat timeout, not after an hour.
 */
export function beat(): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return; // not in an activity
  }
  const now = Date.now();
  if (now - (lastBeat.get(ctx) ?? 0) < BEAT_EVERY_MS) return;
  lastBeat.set(ctx, now);
  ctx.heartbeat();
}
