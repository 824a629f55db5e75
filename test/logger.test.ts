import type { LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WorkerLogger } from '../src/worker/logger.js';

describe('WorkerLogger', () => {
  it('drops only the start-up warning about a worker serving one kind of task', () => {
    const seen: LogEntry[] = [];
    const logger = new WorkerLogger('WARN', (e) => seen.push(e));
    logger.warn('No activities registered, not polling for activity tasks', { taskQueue: 'isheep' });
    logger.warn('No workflows registered, not polling for workflow tasks', { taskQueue: 'isheep-gpu' });
    logger.warn('Activity heartbeat timed out', { taskQueue: 'isheep-gpu' });
    logger.error('No workflows registered, not polling for workflow tasks');
    logger.info('below the level');
    expect(seen.map((e) => [e.level, e.message])).toEqual([
      ['WARN', 'Activity heartbeat timed out'],
      ['ERROR', 'No workflows registered, not polling for workflow tasks'],
    ]);
  });
});
