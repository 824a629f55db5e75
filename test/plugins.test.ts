/**
 * isheep's Worker plugins on their own: what each adds to a Worker's options, and the Workers they refuse (a wrong
 * queue, a second workflow bundle, a model slot that could run two jobs at once). The plugins running real runs:
 * every workflow test (createHostWorkers builds its workers from them) and test/plugin-package.test.ts.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { CPU_QUEUE, GPU_QUEUE, WORKFLOW_QUEUE } from '../src/queues.js';
import { isheepDataActivities, isheepModelSlot, isheepWorkflows, WORKFLOWS_PATH } from '../src/worker/plugins.js';
import { fakeEngine, tempStore } from './support/env.js';

const store = tempStore();
const engine = fakeEngine();
const options = (over: Partial<WorkerOptions>) => ({ taskQueue: 'x', ...over }) as WorkerOptions;

describe('isheep plugins', () => {
  it('registers the workflows from their module, keeping what the Worker had', () => {
    const interceptors = { activity: [] };
    const out = isheepWorkflows().configureWorker(options({ taskQueue: WORKFLOW_QUEUE, identity: 'mine', interceptors }));
    expect(out.workflowsPath).toBe(WORKFLOWS_PATH);
    expect(WORKFLOWS_PATH).toMatch(/workflows[/\\]index\.ts$/);
    expect(out.identity).toBe('mine');
    expect(out.interceptors).toBe(interceptors);
  });

  it('refuses a Worker that has workflows of its own, saying how to add isheep\'s', () => {
    expect(() => isheepWorkflows().configureWorker(options({ workflowsPath: '/team/workflows.ts' }))).toThrow(/already has workflows \(workflowsPath \/team\/workflows\.ts\).*Worker of their own.*isheep\/workflows/);
    expect(() => isheepWorkflows().configureWorker(options({ workflowBundle: { code: '' } }))).toThrow(/already has workflows \(a workflowBundle\)/);
  });

  it('adds the data activities beside the Worker\'s own, on the CPU queue only', () => {
    const own = { mine: async () => 1 };
    const out = isheepDataActivities({ store, engine }).configureWorker(options({ taskQueue: CPU_QUEUE, activities: own }));
    expect(Object.keys(out.activities!)).toEqual(expect.arrayContaining(['mine', 'claimRunFolder', 'resolveEvalData', 'searchAttributesRegistered']));
    expect(() => isheepDataActivities({ store, engine }).configureWorker(options({ taskQueue: 'my-team' }))).toThrow(
      /isheep\.data: isheep's workflows send these activities to task queue 'isheep-cpu'; this Worker polls 'my-team'/,
    );
  });

  it('makes a model slot run one job at a time, and refuses a Worker that could run more', () => {
    const slot = () => isheepModelSlot({ store, engine, devices: '0,1' });
    const out = slot().configureWorker!(options({ taskQueue: GPU_QUEUE })) as WorkerOptions;
    expect(out.maxConcurrentActivityTaskExecutions).toBe(1);
    expect(out.shutdownGraceTime).toBe('10 seconds');
    expect(Object.keys(out.activities!)).toEqual(expect.arrayContaining(['prepareModel', 'generate', 'train']));
    expect(() => slot().configureWorker!(options({ taskQueue: GPU_QUEUE, maxConcurrentActivityTaskExecutions: 4 }))).toThrow(/one job at a time; this Worker sets maxConcurrentActivityTaskExecutions 4/);
    expect(() => slot().configureWorker!(options({ taskQueue: GPU_QUEUE, tuner: {} as WorkerOptions['tuner'] }))).toThrow(/one job at a time; this Worker sets a tuner/);
    expect(() => slot().configureWorker!(out)).toThrow(/already has model activities .*one slot per Worker/);
    expect(() => slot().configureWorker!(options({ taskQueue: CPU_QUEUE }))).toThrow(/task queue 'isheep-gpu'; this Worker polls 'isheep-cpu'/);
  });
});
