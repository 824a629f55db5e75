import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { createHostWorkers, planSlots } from '../src/worker/workers.js';
import { startTemporal, tempStore, withWorkers, workflowBundle } from './support/env.js';
import { SimulatedEngine } from './support/simulated-engine.js';

describe('planning model slots', () => {
  it('makes one slot per GPU, or groups of slot-size GPUs', () => {
    expect(planSlots('all', 1, ['0', '1', '2', '3'])).toEqual([{ devices: '0' }, { devices: '1' }, { devices: '2' }, { devices: '3' }]);
    expect(planSlots('all', 2, ['0', '1', '2', '3'])).toEqual([{ devices: '0,1' }, { devices: '2,3' }]);
    expect(planSlots('1,3', 1, ['0', '1', '2', '3'])).toEqual([{ devices: '1' }, { devices: '3' }]);
  });

  it('falls back to one CPU slot without GPUs', () => {
    expect(planSlots('all', 1, [])).toEqual([{ devices: null }]);
    expect(planSlots('none', 1, ['0'])).toEqual([{ devices: null }]);
  });

  it('refuses GPU lists that do not split into slots, and bad values', () => {
    expect(() => planSlots('all', 3, ['0', '1', '2', '3'])).toThrow(/do not split into slots of 3/);
    expect(() => planSlots('gpu0', 1, [])).toThrow(/--gpus expects/);
    expect(() => planSlots('all', 0, [])).toThrow(/--slot-size/);
  });
});

describe('a host with several slots', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTemporal();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs shards on every slot at once', async () => {
    const engine = new SimulatedEngine({ msPerJob: 300, progressEvents: 1 });
    const extra: NativeConnection[] = [];
    const workers = await createHostWorkers({
      connection: env.nativeConnection,
      connectSlot: async () => {
        const c = await NativeConnection.connect({ address: env.address });
        extra.push(c);
        return c;
      },
      namespace: 'default',
      store: tempStore(),
      engine,
      slots: [{ devices: null }, { devices: null }, { devices: null }],
      workflowBundle: await workflowBundle(),
    });
    const config = withPreset('demo', {
      name: 'three-slots',
      iterations: 1,
      model: { base: 'sim' },
      synthesis: { targetInstructions: 12, promptsPerRound: 12, maxRounds: 2 },
      engine: { shardSize: 2 },
      evaluation: { enabled: false },
    });
    await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'three-slots', args: [config] }));
    await Promise.all(extra.map((c) => c.close()));
    // Jobs overlapped: at some moment three ran at once.
    const events = engine.jobs.flatMap((j) => [
      { t: j.startedAt, d: 1 },
      { t: j.endedAt, d: -1 },
    ]);
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let most = 0;
    for (const e of events) most = Math.max(most, (running += e.d));
    expect(most).toBe(3);
  });
});
