/**
 * A new demo on a server where an earlier run is still going (Ctrl-C keeps runs): the earlier run is paused, so the
 * demo has the model slot to itself, and nothing of it is lost (it resumes on `isheep resume`).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns, renderRunList } from '../src/cli/list.js';
import { pauseOtherRuns } from '../src/cli/other-runs.js';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { resumeSignal, runProgressQuery } from '../src/workflows/messages.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

describe('a new demo and the runs already going', () => {
  it('pauses every other running run, and only those', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine({ FAKE_ENGINE_SLOW_MS: '200' }));
    await withWorkers(workers, async () => {
      const config = withPreset('demo', { name: 'earlier', model: { base: 'fake-model' }, synthesis: { targetInstructions: 6, promptsPerRound: 2 } });
      const earlier = await env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'earlier', args: [config] });
      // Visibility lists a new run within moments.
      let paused: string[] = [];
      for (let i = 0; i < 50 && paused.length === 0; i++) {
        paused = await pauseOtherRuns(env.client, 'the-new-demo', () => {});
        if (paused.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(paused).toEqual(['earlier']);
      expect((await earlier.query(runProgressQuery)).paused).toBe(true);
      const lines: string[] = [];
      expect(await pauseOtherRuns(env.client, 'earlier', (l) => lines.push(l))).toEqual([]); // itself is never paused
      // isheep list shows it running, paused, in its stage; the newest run first.
      const [row] = await listRuns(env.client, store);
      expect(row).toMatchObject({ name: 'earlier', status: 'running', stage: expect.stringMatching(/\(paused\)$/) });
      await earlier.signal(resumeSignal);
      expect((await earlier.query(runProgressQuery)).paused).toBe(false);
      await earlier.terminate('test done');
    });
  });

  it('lists a finished run with its stage, iterations and best score', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const config = withPreset('demo', { name: 'finished', iterations: 1, model: { base: 'fake-model' }, synthesis: { targetInstructions: 6, promptsPerRound: 2 } });
    await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'finished', args: [config] }));
    const rows = await listRuns(env.client, store);
    const row = rows.find((r) => r.name === 'finished')!;
    expect(row).toMatchObject({ status: 'completed', stage: 'done', iteration: '1', best: expect.stringMatching(/^\d+\.\d% ifeval\.promptStrict \((base|iteration 1)\)$/) });
    expect(renderRunList(rows).split('\n')[0]).toMatch(/^run +status +started +stage +iteration +best$/);
  });
});
