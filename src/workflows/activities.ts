/**
 * Activity proxies: data work on the CPU queue, model work on the GPU queue. Model jobs heartbeat every
 * few seconds, so a dead worker is noticed within the heartbeat timeout and the job is retried on another
 * slot, where it resumes from what the dead one left; permanent errors (bad input, a model that cannot
 * load) are never retried.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { DataActivities } from '../activities/data.js';
import type { EvaluationActivities } from '../activities/evaluation.js';
import type { ModelActivities } from '../activities/model.js';
import type { NamespaceActivities } from '../activities/namespace.js';
import type { RunConfig } from '../config/schema.js';
import { PERMANENT_ERRORS } from '../errors.js';
import { CPU_QUEUE, GPU_QUEUE } from '../queues.js';

export function activitiesFor(engine: RunConfig['engine']) {
  const retry = { maximumAttempts: engine.maxAttempts, initialInterval: '1 second', nonRetryableErrorTypes: PERMANENT_ERRORS };
  // Data activities heartbeat as they stream (every 2 s), so a worker that died mid-stage is noticed within a
  // minute however long the stage: the start-to-close limit only has to stay above the largest stage's work
  // (deduplicating 100,000 instructions takes minutes on 2 cores), not catch dead workers.
  const dataOptions = { taskQueue: CPU_QUEUE, startToCloseTimeout: '12 hours', heartbeatTimeout: '1 minute', retry } as const;
  const data = proxyActivities<DataActivities>(dataOptions);
  // Scoring jobs heartbeat through the engine's progress, like model jobs.
  const evaluation = proxyActivities<EvaluationActivities>(dataOptions);
  const namespace = proxyActivities<NamespaceActivities>(dataOptions);
  const modelOptions = {
    taskQueue: GPU_QUEUE,
    // Sized for a 72B iteration (hours); the heartbeat timeout is what catches a dead worker.
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${engine.heartbeatTimeoutSeconds} seconds`,
    retry,
    // A cancelled job is over only when its engine process is: the workflow never moves on while it still runs.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  } as const;
  const modelJobs = proxyActivities<ModelActivities>(modelOptions);
  /** The same model jobs with a one-line summary ("responses · shard 2/4 · iteration 1"), which labels them in the
   * Web UI's timeline (user metadata: not part of what a replay compares). */
  const labelledModelJobs = (summary: string) => proxyActivities<ModelActivities>({ ...modelOptions, summary });
  return { data, evaluation, modelJobs, namespace, labelledModelJobs };
}
