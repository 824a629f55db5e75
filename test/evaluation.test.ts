/**
 * The evaluation suites inside a run, on the real dev server with the test engine (whose score-ifeval job
 * follows a curve per model, FAKE_IFEVAL_CURVE): IFEval's real prompts in a seeded subset, per-model artifacts,
 * intervals and paired deltas, the best iteration as the run's result, early stop, and missing data.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

function config(name: string, over: Record<string, unknown> = {}) {
  return withPreset('demo', {
    name,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 6, promptsPerRound: 2, maxRounds: 3 },
    engine: { shardSize: 16 },
    ...over,
  });
}

const rows = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('evaluation suites in a run', () => {
  it('scores every model on a seeded IFEval subset, names the best iteration and stops when the metric stops improving', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine({ FAKE_IFEVAL_CURVE: '0.5,0.7,0.6,0.55,0.5,0.4' }));
    const cfg = config('eval-patience', { iterations: 5, evaluation: { suites: { ifeval: { limit: 40 }, mtBench: { limit: 8 } }, patience: 2 } });
    const result = (await withWorkers(workers, () =>
      env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'eval-patience', args: [cfg] }),
    )) as RunResult;

    // Iteration 1 is best; 2 and 3 do not beat it, so patience 2 ends the run after 3 of 5 iterations.
    expect(result.summaries.map((s) => s.iteration)).toEqual([1, 2, 3]);
    expect(result.best?.iteration).toBe(1);
    expect(result.best?.metric).toBe('ifeval.promptStrict');
    expect(result.finalModel.uri).toBe('runs/eval-patience/iter-1/model');
    expect(result.lastModel?.uri).toBe('runs/eval-patience/iter-3/model');
    expect(result.stoppedEarly).toMatch(/ifeval\.promptStrict has not improved on iteration 1's .* for 2 iteration\(s\) \(evaluation\.patience 2\)/);

    // The same 40 real IFEval prompts for every model, with generations and per-item scores kept.
    const ids = (label: string) => rows(store.path(`runs/eval-patience/eval/${label}/ifeval.requests.jsonl`)).map((r) => r.id);
    expect(ids('base')).toHaveLength(40);
    expect(ids('iter-2')).toEqual(ids('base'));
    expect(ids('base')[0]).toMatch(/^ifeval-\d+$/);
    for (const f of ['ifeval.raw.jsonl', 'ifeval.scores.jsonl']) expect(existsSync(store.path(`runs/eval-patience/eval/iter-1/${f}`))).toBe(true);

    // Figures with their n and intervals; deltas paired over the same items.
    const base = result.baselineSuites!.ifeval!;
    const first = result.summaries[0]!;
    expect(base.items).toBe(40);
    expect(base.promptStrict.low).toBeLessThanOrEqual(base.promptStrict.value);
    expect(first.suites!.ifeval!.promptStrict.value).toBeGreaterThan(base.promptStrict.value);
    expect(first.deltas!.vsBase!.value).toBeCloseTo(first.suites!.ifeval!.promptStrict.value - base.promptStrict.value, 10);
    expect(first.deltas!.vsFirst).toBeNull();
    expect(result.summaries[1]!.deltas!.vsFirst!.value).toBeLessThan(0);
    expect(first.evalScore).toBe(first.suites!.ifeval!.promptStrict.value);

    // MT-Bench: turn 2 carries the model's own turn-1 answer; the base model judges both turns of each question.
    const turn2 = rows(store.path('runs/eval-patience/eval/iter-1/mtbench.turn2.requests.jsonl'));
    const turn1Out = rows(store.path('runs/eval-patience/eval/iter-1/mtbench.turn1.raw.jsonl'));
    expect(turn2).toHaveLength(8);
    expect(turn2[0].messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(turn2[0].messages[2].content).toBe(turn1Out[0].text);
    const judgeSpec = JSON.parse(readFileSync(store.path('runs/eval-patience/eval/iter-1/mtbench.judge.raw.jsonl.spec.json'), 'utf8'));
    expect(judgeSpec.model).toMatch(/models\/fake-model-/); // evaluation.judge.grader base: M_0 judges every model
    const mt = first.suites!.mtBench!;
    expect(mt.total).toBe(16);
    expect(mt.byTurn['1'].n + mt.byTurn['1'].unparsable).toBe(8);
    expect(mt.turn2Score.n).toBe(mt.byTurn['2'].n);
    expect(rows(store.path('runs/eval-patience/eval/iter-1/mtbench.scores.jsonl'))[0]).toMatchObject({ id: expect.stringMatching(/^mtbench-\d+-t1$/), turn: 1 });

    const card = JSON.parse(readFileSync(store.path('runs/eval-patience/iter-1/card.json'), 'utf8'));
    expect(card.suites.ifeval.promptStrict.n).toBe(40);
    const report = readFileSync(store.path('runs/eval-patience/report.md'), 'utf8');
    expect(report).toContain('IFEval prompt-strict % (n=40)');
    expect(report).toContain('MT-Bench turn 1 (n=8)');
    expect(report).toContain('best: iteration 1 by ifeval.promptStrict');
    expect(report).toContain('stopped early:');
  });

  it('fails at the start, before any model job, when a suite\'s data is nowhere to be found', async () => {
    const store = tempStore();
    const empty = mkdtempSync(join(tmpdir(), 'isheep-no-eval-data-'));
    const workers = await hostWorkers(env, store, fakeEngine());
    const err = await withWorkers(workers, () =>
      env.client.workflow
        .execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'eval-no-data', args: [config('eval-no-data', { evaluation: { data: empty } })] })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = ((err as WorkflowFailedError).cause as Error & { cause?: ApplicationFailure }).cause!;
    expect(cause.type).toBe('BadInput');
    expect(cause.message).toContain('the evaluation data of ifeval, mtBench was not found');
    expect(cause.message).toContain(`evaluation.data: ${empty} has no ifeval/input_data.jsonl, mt_bench/question.jsonl`);
    expect(cause.message).toContain('ISHEEP_EVAL_DATA');
    expect(cause.message).toContain('google/IFEval');
    expect(existsSync(store.path('models'))).toBe(false); // no model was imported
  });
});
