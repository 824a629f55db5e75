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
import { parseConfig } from '../src/config/schema.js';
import { resolveEvalDir } from '../src/activities/eval-data.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { renderCard } from '../src/cli/card.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';
import { buildPairwiseJudgeRequests, parseAlpacaEvalOutputs } from '../src/stages/alpaca-eval.js';
import { suitesNeedingData, type SuiteSummaries } from '../src/workflows/evaluate.js';
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
    // The demo's judge answers are made to begin "Rating: [[" (evaluation.judge.answerPrefix): each judge conversation
    // ends on that assistant turn, and the rating is read from the prefix plus the judge's continuation ("7]]").
    const judgeRequests = rows(store.path('runs/eval-patience/eval/iter-1/mtbench.judge.requests.jsonl'));
    expect(judgeRequests.every((r) => JSON.stringify(r.messages.at(-1)) === JSON.stringify({ role: 'assistant', content: 'Rating: [[' }))).toBe(true);
    const scored = rows(store.path('runs/eval-patience/eval/iter-1/mtbench.scores.jsonl'));
    expect(scored.map((r) => r.judgment)).toEqual(scored.map((r) => `Rating: [[${r.score}]]`));
    expect(mt.unparsable).toBe(0);

    const card = JSON.parse(readFileSync(store.path('runs/eval-patience/iter-1/card.json'), 'utf8'));
    expect(card.suites.ifeval.promptStrict.n).toBe(40);
    const report = readFileSync(store.path('runs/eval-patience/report.md'), 'utf8');
    expect(report).toContain('IFEval prompt-strict % (n=40)');
    expect(report).toContain('MT-Bench turn 1 (n=8)');
    expect(report).toContain('best: iteration 1 by ifeval.promptStrict');
    expect(report).toContain('stopped early:');
  });

  it('runs AlpacaEval against the references, the previous and the base model in both orders, HumanEval in the sandbox job, and lm-eval tasks on each model folder', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const cfg = config('eval-pairs', {
      iterations: 2,
      // The base model continues raw text (HumanEval: the prompt, cut at the stop sequences); iterations chat.
      model: { base: 'fake-model', baseChatTemplate: false },
      evaluation: {
        suites: {
          ifeval: { enabled: false },
          mtBench: { enabled: false },
          alpacaEval: { enabled: true, limit: 6 },
          humanEval: { enabled: true },
          lmEval: { enabled: true, tasks: ['arc_easy', 'local_qa'], limit: 20, includePath: '/data/tasks' },
        },
        select: 'humanEval.passAt1',
      },
    });
    const result = (await withWorkers(workers, () =>
      env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'eval-pairs', args: [cfg] }),
    )) as RunResult;
    const dir = (label: string) => store.path(`runs/eval-pairs/eval/${label}`);
    const [iter1, iter2] = result.summaries.map((s) => s.suites!);
    expect(result.summaries).toHaveLength(2);

    // Baselines: the base model only against the references; iteration 1 also against the base (its previous);
    // iteration 2 against iteration 1 and the base.
    const baselines = (s: SuiteSummaries | undefined) => s!.alpacaEval!.comparisons.map((c) => c.baseline);
    expect(baselines(result.baselineSuites!)).toEqual(['gpt4_1106_preview', 'text_davinci_003']);
    expect(baselines(iter1)).toEqual(['gpt4_1106_preview', 'text_davinci_003', 'base']);
    expect(baselines(iter2)).toEqual(['gpt4_1106_preview', 'text_davinci_003', 'iter-1', 'base']);

    // The judge gets AlpacaEval 2.0's exact prompt, each pair in both orders.
    const data = join(PROJECT_ROOT, '..', 'shared', 'eval', 'alpaca_eval');
    const template = readFileSync(join(data, 'judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt'), 'utf8');
    const reference = parseAlpacaEvalOutputs(readFileSync(join(data, 'gpt4_1106_preview.json'), 'utf8'));
    const answers = rows(`${dir('iter-2')}/alpacaeval.raw.jsonl`);
    expect(answers).toHaveLength(6);
    const judgeRequests = new Map(rows(`${dir('iter-2')}/alpacaeval.judge.requests.jsonl`).map((r) => [r.id, r.messages]));
    const first = answers[0];
    const instruction = reference[Number(first.id.replace('alpaca-', ''))]!;
    const expected = buildPairwiseJudgeRequests(template, { instruction: instruction.instruction, modelOutput: first.text, baselineOutput: instruction.output });
    expect(judgeRequests.get(`${first.id}|gpt4_1106_preview|model_first`)).toEqual(expected[0].messages);
    expect(judgeRequests.get(`${first.id}|gpt4_1106_preview|model_second`)).toEqual(expected[1].messages);
    expect(expected[0].messages.at(-1)!.content).toContain(`"output": """${first.text}"""`);
    const judgeSpec = JSON.parse(readFileSync(`${dir('iter-2')}/alpacaeval.judge.raw.jsonl.shards/0000.jsonl.spec.json`, 'utf8')); // 48 requests, shards of 16
    expect(judgeSpec.model).toMatch(/models\/fake-model-/); // grader base
    expect(judgeSpec.sampling).toMatchObject({ temperature: 0, max_new_tokens: 4 });

    // Verdicts: the test judge favours the longer output in either order and gives no verdict on some pairs; those
    // are counted, the other order's verdict still decides, and an item with neither is left out.
    const scores = rows(`${dir('iter-2')}/alpacaeval.scores.jsonl`);
    expect(scores).toHaveLength(6 * 4);
    for (const comparison of iter2!.alpacaEval!.comparisons) {
      const mine = scores.filter((s) => s.baseline === comparison.baseline);
      const nulls = mine.filter((s) => s.modelOutput !== s.baselineOutput).flatMap((s) => [s.modelFirst, s.modelSecond]).filter((v) => v === null).length;
      expect(comparison.unparsable).toBe(nulls);
      expect(comparison.winRate.n + comparison.dropped).toBe(6);
      expect(comparison.wins + comparison.losses + comparison.draws).toBe(comparison.winRate.n);
    }
    const vsGpt4 = iter2!.alpacaEval!.comparisons[0]!;
    expect(vsGpt4.avgLength.baseline).toBeGreaterThan(vsGpt4.avgLength.model); // GPT-4 Turbo writes more
    // and the length-biased judge prefers it in both orders, at 0.8 against 0.2 in its first token's log-probabilities:
    // read as AlpacaEval 2.0's weighted annotator does, each item's preference for the model is 0.2
    expect(judgeSpec.top_logprobs).toBe(5);
    expect(vsGpt4.winRate.value).toBeCloseTo(0.2, 10);
    expect(scores.find((s) => s.baseline === 'gpt4_1106_preview' && s.modelFirst !== null)!.modelFirst).toBeCloseTo(1.8, 10);
    expect(iter2!.alpacaEval!.avgLength).toBe(vsGpt4.avgLength.model);

    // HumanEval: the base model continues the prompt, cut at the stop sequences; a chat model's code block is taken.
    const baseSpec = JSON.parse(readFileSync(`${dir('base')}/humaneval.raw.jsonl.spec.json`, 'utf8'));
    expect(baseSpec.stop).toEqual(['\nclass', '\ndef', '\n#', '\nif', '\nprint']);
    const iterSpec = JSON.parse(readFileSync(`${dir('iter-1')}/humaneval.raw.jsonl.spec.json`, 'utf8'));
    expect(iterSpec.stop).toBeUndefined();
    expect(rows(`${dir('base')}/humaneval.requests.jsonl`)[0]).toEqual({ id: 'HumanEval/0', prompt: 'def f0(x):\n    """Return x."""\n' });
    const baseCompletions = rows(`${dir('base')}/humaneval.completions.jsonl`);
    expect(baseCompletions.every((c) => !c.completion.includes('print') && !c.completion.includes('def other'))).toBe(true);
    const chatCompletions = rows(`${dir('iter-1')}/humaneval.completions.jsonl`);
    const passing = chatCompletions.filter((c) => c.completion.includes('return x')).length;
    expect(chatCompletions.some((c) => c.completion.startsWith('\ndef f'))).toBe(true);
    expect(iter1!.humanEval!.passAt1).toMatchObject({ value: passing / 5, n: 5 });
    expect(iter1!.humanEval!.failures.failed).toBe(5 - passing);
    expect(rows(`${dir('iter-1')}/humaneval.scores.jsonl`)).toHaveLength(5);

    // lm-eval: a model job on each model's folder (the merged model after training), its figures with stderr.
    const lmSpec = JSON.parse(readFileSync(`${dir('iter-2')}/lm-eval.json.spec.json`, 'utf8'));
    expect(lmSpec).toMatchObject({ model: store.path('runs/eval-pairs/iter-2/model'), tasks: ['arc_easy', 'local_qa'], limit: 20, include_path: '/data/tasks', device: 'cpu' });
    expect(JSON.parse(readFileSync(`${dir('base')}/lm-eval.json.spec.json`, 'utf8')).model).toMatch(/models\/fake-model-/);
    const arc = iter2!.lmEval!.tasks.find((t) => t.task === 'arc_easy')!;
    expect(arc.items).toBe(20);
    expect(arc.metrics).toHaveLength(1); // acc, its stderr beside it
    expect(arc.metrics[0]!.estimate!.high - arc.metrics[0]!.value).toBeCloseTo(1.96 * arc.metrics[0]!.stderr!, 2);
    expect(existsSync(`${dir('iter-2')}/lm-eval.samples.jsonl`)).toBe(true);

    // The best iteration by pass@1; the report and the card show every suite.
    const values = [result.baselineSuites!.humanEval!.passAt1.value, iter1!.humanEval!.passAt1.value, iter2!.humanEval!.passAt1.value];
    expect(result.best!.value).toBe(Math.max(...values));
    expect(result.best!.iteration).toBe(values.indexOf(Math.max(...values)));
    const report = readFileSync(store.path('runs/eval-pairs/report.md'), 'utf8');
    expect(report).toContain('AlpacaEval win % vs gpt4_1106_preview (n=6)');
    expect(report).toContain('HumanEval pass@1 % (n=5)');
    expect(report).toContain('lm-eval arc_easy acc');
    expect(report).toContain(`${arc.metrics[0]!.value.toFixed(4)} ± ${arc.metrics[0]!.stderr!.toFixed(4)}`);
    expect(renderCard(JSON.parse(readFileSync(store.path('runs/eval-pairs/iter-2/card.json'), 'utf8')))).toMatch(/AlpacaEval {2}win rate vs gpt4_1106_preview .* vs iter-1 .*\n {2}HumanEval {3}pass@1 .*\n {2}lm-eval {5}arc_easy acc 0\.\d{4} ± /);
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

describe('the benchmark files a run needs', () => {
  it('names the AlpacaEval files (1.0 only when asked for) and where they come from', () => {
    const empty = mkdtempSync(join(tmpdir(), 'isheep-no-eval-data-'));
    const both = parseConfig(config('x', { evaluation: { suites: { ifeval: { enabled: false }, mtBench: { enabled: false }, alpacaEval: { enabled: true } }, select: 'alpacaEval.winRate' } }));
    expect(suitesNeedingData(both)).toEqual(['alpacaEval', 'alpacaEval.text_davinci_003']);
    expect(() => resolveEvalDir(empty, suitesNeedingData(both), {})).toThrow(
      new RegExp(`evaluation.data: ${empty} has no alpaca_eval/gpt4_1106_preview.json, alpaca_eval/judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt, alpaca_eval/text_davinci_003.json[\\s\\S]*tatsu-lab/alpaca_eval`),
    );
    const only2 = parseConfig(config('x', { evaluation: { suites: { alpacaEval: { enabled: true, references: ['gpt4_1106_preview'] } } } }));
    expect(suitesNeedingData(only2)).toEqual(['ifeval', 'mtBench', 'alpacaEval']);
    // HumanEval's problems come with the engine: no files to find.
    expect(suitesNeedingData(parseConfig(config('x', { evaluation: { suites: { ifeval: { enabled: false }, mtBench: { enabled: false }, humanEval: { enabled: true } }, select: 'humanEval.passAt1' } })))).toEqual([]);
    expect(() => parseConfig(config('x', { evaluation: { suites: { alpacaEval: { enabled: true, references: [], againstPrevious: false, againstBase: false } } } }))).toThrow(/compares with nothing/);
    expect(() => parseConfig(config('x', { evaluation: { suites: { lmEval: { enabled: true } } } }))).toThrow(/evaluation\.suites\.lmEval\.tasks: names no task/);
  });
});
