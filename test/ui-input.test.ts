/**
 * What a person types into the Web UI's "Start workflow" form, on the real dev server with the test engine: a
 * `preset` merged under their fields, search attributes set by the run itself (the form sets none), a paper-size
 * run refused at once on slots without a GPU (before it claims its name or imports a model), and the override.
 */
import { existsSync, readFileSync } from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { CPU_TOKENS_PER_ITERATION_LIMIT, generatedTokensPerIteration, parseConfig } from '../src/config/schema.js';
import { parseRunInput } from '../src/config/input.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from '../src/workflows/search-attributes.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

/** How the Web UI starts a run: workflow type, id and queue, the JSON input, no search attributes. */
const startFromUi = (id: string, input: unknown) => env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: id, args: [input] });

const causeOf = (err: unknown) => ((err as WorkflowFailedError).cause as Error & { cause?: ApplicationFailure }).cause ?? ((err as WorkflowFailedError).cause as ApplicationFailure);

describe('the Web UI input', () => {
  it('takes a preset under the fields typed; the run marks itself findable by stage and iteration and labels its jobs', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const input = { name: 'ui-demo', preset: 'demo', model: { base: 'fake-model' }, iterations: 1, synthesis: { targetInstructions: 6, promptsPerRound: 2 } };
    await withWorkers(workers, async () => {
      const handle = await startFromUi('ui-demo', input);
      await handle.result();
      const { typedSearchAttributes } = await handle.describe();
      expect(typedSearchAttributes.get(STAGE_ATTRIBUTE)).toBe('done');
      expect(typedSearchAttributes.get(ITERATION_ATTRIBUTE)).toBe(1);
    });
    // The Web UI's timeline labels each model job: its stage, shard and model.
    const summaries = async (id: string) =>
      ((await env.client.workflow.getHandle(id).fetchHistory()).events ?? [])
        .filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary)
        .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary!));
    const labels = await summaries('ui-demo.iter-1');
    expect(labels).toEqual(expect.arrayContaining(['responses · iteration 1', 'training · iteration 1', 'assessment quality · iteration 1']));
    expect(labels.some((l) => /^synthesis round 0 · (shard \d+\/\d+ · )?iteration 1$/.test(l))).toBe(true);
    expect(await summaries('ui-demo')).toEqual(expect.arrayContaining(['evaluation ifeval + mt-bench turn 1 · base model']));
    const report = JSON.parse(readFileSync(store.path('runs/ui-demo/report.json'), 'utf8'));
    // The demo preset's values where the input is silent, the input's where it speaks.
    expect(report.config.engine.batchSize).toBe(32);
    expect(report.config.evaluation.suites.ifeval.limit).toBe(24);
    expect(report.config.synthesis).toMatchObject({ targetInstructions: 6, promptsPerRound: 2, maxRounds: 4 });
    expect(report.config.preset).toBeUndefined();
  });

  it('refuses an unknown preset at once, naming the ones there are', async () => {
    const workers = await hostWorkers(env, tempStore(), fakeEngine());
    const err = await withWorkers(workers, () => startFromUi('ui-bad-preset', { name: 'ui-bad-preset', preset: 'tiny' }).then((h) => h.result().catch((e: unknown) => e)));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(causeOf(err).type).toBe('InvalidConfig');
    expect(causeOf(err).message).toContain('preset: must be one of "demo", "paper", "single-gpu-7b", got "tiny"');
  });

  it('refuses the paper\'s sizes on slots without a GPU before claiming the name, unless told to run anyway', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    // The README's first example as a person would type it: no preset, so every size is the paper's.
    const err = await withWorkers(workers, () => startFromUi('ui-paper', { name: 'ui-paper', model: { base: 'fake-model' }, iterations: 3 }).then((h) => h.result().catch((e: unknown) => e)));
    expect(causeOf(err).type).toBe('InvalidConfig');
    expect(causeOf(err).message).toMatch(/about 1\d\.\d million tokens per iteration .* the model workers have no GPU.*"preset": "demo".*"allowCpuAtPaperScale": true/);
    expect(existsSync(store.path('runs/ui-paper/run.json'))).toBe(false); // the name is not taken
    expect(existsSync(store.path('models'))).toBe(false); // nothing imported

    // With the override it starts: it claims its folder and goes on (cut short here).
    await withWorkers(await hostWorkers(env, store, fakeEngine()), async () => {
      const handle = await startFromUi('ui-paper-anyway', { name: 'ui-paper-anyway', model: { base: 'fake-model' }, allowCpuAtPaperScale: true });
      for (let i = 0; i < 200 && !existsSync(store.path('runs/ui-paper-anyway/seeds.jsonl')); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(store.path('runs/ui-paper-anyway/run.json'))).toBe(true);
      await handle.terminate('test: the override was honoured');
    });
  });
});

describe('sizes', () => {
  it('puts the paper far above the CPU limit and the demo far below it', () => {
    const paper = parseConfig(withPreset('paper', { name: 'p', evaluation: { judge: { endpoint: { baseUrl: 'http://judge:8000/v1', model: 'j' } } } }));
    expect(generatedTokensPerIteration(paper)).toBeGreaterThan(10 * CPU_TOKENS_PER_ITERATION_LIMIT);
    expect(generatedTokensPerIteration(parseRunInput({ name: 'd', preset: 'demo' }))).toBeLessThan(CPU_TOKENS_PER_ITERATION_LIMIT / 10);
  });
});
