/**
 * Activity proxies, declared once: data work on the CPU queue, model work on the GPU queue.
 * Model jobs heartbeat every few seconds, so a dead worker is noticed within two minutes and the job is
 * retried on another slot; permanent errors (bad input, a model that cannot load) are never retried.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { DataActivities } from '../activities/data.js';
import type { ModelActivities } from '../activities/model.js';
import { PERMANENT_ERRORS } from '../errors.js';
import { CPU_QUEUE, GPU_QUEUE } from '../queues.js';

export const data = proxyActivities<DataActivities>({
  taskQueue: CPU_QUEUE,
  startToCloseTimeout: '1 hour',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT_ERRORS },
});

export const modelJobs = proxyActivities<ModelActivities>({
  taskQueue: GPU_QUEUE,
  // Sized for a 72B iteration (hours); the heartbeat timeout is what catches a dead worker.
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 5, initialInterval: '5 seconds', nonRetryableErrorTypes: PERMANENT_ERRORS },
});
