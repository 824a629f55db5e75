import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import type { RunResult } from '../src/workflows/types.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

function smallConfig(name: string, over: Record<string, unknown> = {}) {
  return withPreset('demo', {
    name,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 12, promptsPerRound: 2, maxRounds: 5 },
    ...over,
  });
}

async function runToEnd(name: string, config: unknown) {
  return env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: name, args: [config] });
}

describe('iSheepRun on a real dev server with the test engine', () => {
  it('runs two iterations, each in its own child workflow, and reports every stage', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const result = (await withWorkers(workers, () => runToEnd('wf-two-iterations', smallConfig('wf-two-iterations')))) as RunResult;

    expect(result.summaries.map((s) => s.iteration)).toEqual([1, 2]);
    for (const s of result.summaries) {
      expect(s.instructions).toBe(12);
      expect(s.pairs).toBeGreaterThan(0);
      expect(s.kept).toBeGreaterThan(0);
      expect(s.kept).toBeLessThan(s.pairs); // the fake grader gives some 6s and unparsable judgments
      expect(s.trainLoss).toBe(1.5);
      expect(s.evalScore).not.toBeNull();
    }
    expect(result.baselineSuites?.ifeval?.items).toBe(24); // the demo preset's seeded IFEval subset
    expect(result.best).not.toBeNull();
    expect(result.lastModel?.uri).toBe('runs/wf-two-iterations/iter-2/model');
    expect(result.finalModel).toEqual(result.best!.model); // the run's result is its best model
    const card = JSON.parse(readFileSync(store.path('runs/wf-two-iterations/iter-1/card.json'), 'utf8'));
    expect(card.synthesis.droppedLast).toBeGreaterThan(0);
    expect(card.assessment.dropped.unparsable_quality + card.assessment.dropped.low_quality).toBeGreaterThan(0);
    expect(existsSync(store.path(`${result.report}.md`))).toBe(true);

    const child = await env.client.workflow.getHandle('wf-two-iterations.iter-2').describe();
    expect(child.type).toBe('iSheepIteration');
    expect(child.status.name).toBe('COMPLETED');
  });

  it('answers with the chat template once the model is fine-tuned, and trains the base model each time', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const config = smallConfig('wf-policy', { model: { base: 'fake-model', baseChatTemplate: false }, evaluation: { enabled: false } });
    await withWorkers(workers, () => runToEnd('wf-policy', config));

    const requests = (uri: string) => readFileSync(store.path(uri), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(requests('runs/wf-policy/iter-1/responses.requests.jsonl')[0]).toHaveProperty('prompt');
    expect(requests('runs/wf-policy/iter-2/responses.requests.jsonl')[0]).toHaveProperty('messages');
    const spec2 = JSON.parse(readFileSync(store.path('runs/wf-policy/iter-2/model.spec.json'), 'utf8'));
    expect(spec2.base_model).toMatch(/models\/fake-model-/); // one_base: always M_0
  });

  it('fine-tunes the last model and pools all pairs under the ablation policies', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    await withWorkers(workers, async () => {
      await runToEnd('wf-one-last', smallConfig('wf-one-last', { training: { policy: 'one_last' }, evaluation: { enabled: false } }));
      await runToEnd('wf-total-base', smallConfig('wf-total-base', { training: { policy: 'total_base' }, evaluation: { enabled: false } }));
    });
    const spec = (uri: string) => JSON.parse(readFileSync(store.path(uri), 'utf8'));
    expect(spec('runs/wf-one-last/iter-2/model.spec.json').base_model).toBe(store.path('runs/wf-one-last/iter-1/model'));
    const total = spec('runs/wf-total-base/iter-2/model.spec.json');
    expect(total.base_model).toMatch(/models\/fake-model-/);
    const rows = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean).length;
    expect(rows(total.data)).toBe(
      rows(store.path('runs/wf-total-base/iter-1/kept.jsonl')) + rows(store.path('runs/wf-total-base/iter-2/kept.jsonl')),
    );
  });

  it('grades through an external OpenAI-compatible endpoint when asked, passing the key by name only', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine(), undefined, { keys: ['JUDGE_API_KEY'], hosts: ['127.0.0.1:9'] });
    const endpoint = { baseUrl: 'http://127.0.0.1:9/v1', model: 'judge-70b', apiKeyEnv: 'JUDGE_API_KEY' };
    const config = smallConfig('wf-external', {
      iterations: 1,
      assessment: { grader: 'external', endpoint },
      evaluation: { enabled: false },
      engine: { backend: 'vllm', vllm: { gpuMemoryUtilization: 0.8 } },
    });
    await withWorkers(workers, () => runToEnd('wf-external', config));
    const spec = JSON.parse(readFileSync(store.path('runs/wf-external/iter-1/assessment/quality.raw.jsonl.spec.json'), 'utf8'));
    expect(spec.backend).toBe('openai');
    expect(spec.endpoint).toEqual({ base_url: endpoint.baseUrl, model: 'judge-70b', api_key_env: 'JUDGE_API_KEY', concurrency: 8, timeout_s: 120, max_retries: 5 });
    expect(spec).not.toHaveProperty('model');
    const requests = readFileSync(store.path('runs/wf-external/iter-1/assessment/quality.requests.jsonl'), 'utf8').split('\n')[0]!;
    expect(JSON.parse(requests)).toHaveProperty('messages');
    const responsesSpec = JSON.parse(readFileSync(store.path('runs/wf-external/iter-1/responses.raw.jsonl.spec.json'), 'utf8'));
    expect(responsesSpec.backend).toBe('vllm'); // only grading goes outside; the rest runs on the backend named
    expect(responsesSpec.vllm).toEqual({ gpu_memory_utilization: 0.8, max_model_len: null, enforce_eager: false });
  });

  it('fails at once, without retrying, on a config with bad fields, naming each of them', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const bad = { name: 'Bad Name!', iterations: 0, model: { base: 'x' }, synthesis: { rougeThreshold: 2 }, colour: 'blue' };
    const err = await withWorkers(workers, () => runToEnd('wf-bad-config', bad).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidConfig');
    expect(cause.nonRetryable).toBe(true);
    for (const field of ['name', 'iterations', 'synthesis.rougeThreshold', 'colour']) expect(cause.message).toContain(field);
    const history = await env.client.workflow.getHandle('wf-bad-config').fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('fails with the line numbers of a broken seed file and starts no model job', async () => {
    const store = tempStore();
    const seedFile = join(store.root, 'seeds.jsonl');
    writeFileSync(seedFile, '{"instruction": "Name three rivers in Africa."}\nnot json\n{"input": "no instruction"}\n');
    const workers = await hostWorkers(env, store, fakeEngine());
    const config = smallConfig('wf-bad-seeds', { seeds: { file: seedFile } });
    const err = await withWorkers(workers, () => runToEnd('wf-bad-seeds', config).catch((e: unknown) => e));
    const cause = ((err as WorkflowFailedError).cause as ApplicationFailure & { cause?: ApplicationFailure }).cause as ApplicationFailure;
    expect(cause.type).toBe('BadInput');
    expect(cause.message).toContain('line 2: not valid JSON');
    expect(cause.message).toContain('line 3');
    expect(existsSync(store.path('models'))).toBe(false);
  });
});
