import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { startRun } from '../src/temporal/start-run.js';
import {
  iterationProgressQuery,
  pauseSignal,
  resumeSignal,
  runProgressQuery,
  setIterationsUpdate,
  stopAfterIterationSignal,
} from '../src/workflows/messages.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from '../src/workflows/search-attributes.js';
import type { RunResult } from '../src/workflows/types.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

function config(name: string, iterations: number) {
  return withPreset('demo', {
    name,
    iterations,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 8, promptsPerRound: 2, maxRounds: 5 },
    evaluation: { enabled: false },
    engine: { shardSize: 4 },
  }) as { name: string } & Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(test: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

describe('controlling a running run', () => {
  it('pauses between jobs, resumes, and takes a new iteration count while running', async () => {
    const workers = await hostWorkers(env, tempStore(), fakeEngine({ FAKE_ENGINE_SLOW_MS: '40' }));
    const result = await withWorkers(workers, async () => {
      const handle = await startRun(env.client, 'default', config('ctl-pause', 3));
      const child = env.client.workflow.getHandle('ctl-pause.iter-1');
      await waitUntil(async () => (await child.query(iterationProgressQuery).catch(() => null)) !== null);
      await handle.signal(pauseSignal);
      // Paused: whatever was in flight finishes, then nothing moves.
      await waitUntil(async () => (await child.query(iterationProgressQuery)).paused);
      // Jobs in flight finish (and the cheap data steps after them); then the iteration waits.
      let before = '';
      await waitUntil(async () => {
        const idle = ((await child.describe()).raw.pendingActivities ?? []).length === 0;
        const now = JSON.stringify(await child.query(iterationProgressQuery));
        const settled = idle && now === before;
        before = now;
        await sleep(300);
        return settled;
      });
      await sleep(1500);
      expect(JSON.stringify(await child.query(iterationProgressQuery))).toBe(before);
      expect((await handle.query(runProgressQuery)).paused).toBe(true);

      const refused = await handle.executeUpdate(setIterationsUpdate, { args: [0] }).catch((e: Error) => e);
      expect((refused as Error & { cause?: Error }).cause?.message).toMatch(/iterations must be a whole number from 1/);
      expect(await handle.executeUpdate(setIterationsUpdate, { args: [2] })).toBe(2);
      await handle.signal(resumeSignal);
      return (await handle.result()) as RunResult;
    });
    expect(result.summaries.map((s) => s.iteration)).toEqual([1, 2]);
    const described = await env.client.workflow.getHandle('ctl-pause').describe();
    expect(described.typedSearchAttributes.get(STAGE_ATTRIBUTE)).toBe('done');
    expect(described.typedSearchAttributes.get(ITERATION_ATTRIBUTE)).toBe(2);
  });

  it('stops after the current iteration when asked, and still reports', async () => {
    const workers = await hostWorkers(env, tempStore(), fakeEngine());
    const result = await withWorkers(workers, async () => {
      const handle = await startRun(env.client, 'default', config('ctl-stop', 5));
      await waitUntil(async () => (await handle.query(runProgressQuery)).iteration === 1);
      await handle.signal(stopAfterIterationSignal);
      return (await handle.result()) as RunResult;
    });
    expect(result.summaries).toHaveLength(1);
    expect(result.report).toBe('runs/ctl-stop/report');
  });
});
