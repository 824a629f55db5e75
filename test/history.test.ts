/**
 * Long runs stay far below Temporal's history limits (50,000 events, 50 MB per history), because each
 * iteration is a child workflow: the parent grows by a few events per iteration, and an iteration's history
 * grows with its shards, not with the run. Both are measured with an in-process simulated engine.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';
import { SimulatedEngine } from './support/simulated-engine.js';

const EVENT_LIMIT = 50_000;
const SIZE_LIMIT = 50 * 1024 * 1024;

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

async function historyOf(id: string): Promise<{ events: number; bytes: number }> {
  const history = await env.client.workflow.getHandle(id).fetchHistory();
  const { temporal } = await import('@temporalio/proto');
  return { events: history.events?.length ?? 0, bytes: temporal.api.history.v1.History.encode(history).finish().length };
}

describe('history sizes of long runs', () => {
  it('keeps the parent of a 50-iteration run small', async () => {
    const workers = await hostWorkers(env, tempStore(), new SimulatedEngine({ msPerJob: 0, progressEvents: 0 }));
    const config = withPreset('demo', {
      name: 'hist-50',
      iterations: 50,
      model: { base: 'sim' },
      synthesis: { targetInstructions: 4, promptsPerRound: 1, maxRounds: 3 },
      evaluation: { enabled: false },
    });
    await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'hist-50', args: [config] }));
    const parent = await historyOf('hist-50');
    const child = await historyOf('hist-50.iter-50');
    console.log(`50 iterations: parent ${parent.events} events / ${parent.bytes} bytes; one iteration ${child.events} events`);
    expect(parent.events).toBeLessThan(EVENT_LIMIT / 50);
    expect(parent.bytes).toBeLessThan(SIZE_LIMIT / 50);
  }, 600_000);

  it('keeps an iteration with 200 shards per generation stage far below the limits', async () => {
    const workers = await hostWorkers(env, tempStore(), new SimulatedEngine({ msPerJob: 0, progressEvents: 0 }));
    const config = withPreset('demo', {
      name: 'hist-200',
      iterations: 1,
      model: { base: 'sim' },
      synthesis: { targetInstructions: 200, promptsPerRound: 200, maxRounds: 3 },
      engine: { shardSize: 1 },
      evaluation: { enabled: false },
      assessment: { level: 'none' },
    });
    await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'hist-200', args: [config] }));
    const child = await historyOf('hist-200.iter-1');
    console.log(`200 shards per stage: iteration ${child.events} events / ${child.bytes} bytes`);
    expect(child.events).toBeGreaterThan(2 * 200 * 3); // the shards really ran as activities
    expect(child.events).toBeLessThan(EVENT_LIMIT / 5);
    expect(child.bytes).toBeLessThan(SIZE_LIMIT / 5);
  }, 600_000);
});
