/**
 * Benchmark (issue 8): how long each evaluation suite takes on this machine's CPU, and how much of it is the
 * engine. Each suite runs as a run does — the same activities, outside a worker (MockActivityEnvironment) — on the
 * demo model (SmolLM2-135M-Instruct) at the demo's decoding settings:
 *
 *   npm run bench:suites                     # the demo's sizes: IFEval 24, MT-Bench 4, AlpacaEval 8, HumanEval 8
 *   npm run bench:suites -- --ifeval 48 --mtbench 8 --alpaca 16 --humaneval 16 --runs 3
 *   npm run bench:suites -- --ifeval 541 --mtbench 80 --alpaca 0 --humaneval 0 --no-full-scoring   # full-size figures
 * (--batch N: generation batch size, the demo's by default; a size of 0 skips a suite)
 *
 * Per suite and phase it prints items, seconds (median of --runs), items/s and the engine's share: the time spent
 * inside engine subprocesses (generation, lm-eval's IFEval checker, the HumanEval sandbox) over the phase's wall
 * time; the rest is TypeScript (building requests, joining, scoring MT-Bench and AlpacaEval). Generation also
 * shows the engine's own tokens/s and the model load (process start + load = job wall − generation time).
 * Two full-size scoring phases follow: IFEval's checker on all 541 prompts (the prompts as responses) and the
 * sandbox on all 164 canonical HumanEval solutions. Last, per suite: the projected time of one model at full size
 * (measured s/item × the full count), and the demo's evaluation (its sizes, three models: base, iterations 1
 * and 2) against the anchor, the demo's 15-minute budget.
 *
 * Run it on an idle machine: generation on 2 cores slows several-fold under other load.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createEvaluationActivities } from '../src/activities/evaluation.js';
import { resolveEvalDir } from '../src/activities/eval-data.js';
import { createModelActivities } from '../src/activities/model.js';
import { Store, type ArtifactRef, type ModelRef } from '../src/artifacts/store.js';
import { DEMO_MODEL, demoPreset } from '../src/config/presets.js';
import type { Sampling } from '../src/config/schema.js';
import { SubprocessEngine, type Engine, type EngineEvent, type EngineJob, type RunOptions } from '../src/engine/runner.js';
import { engineCommand, loadTools } from '../src/setup/tools.js';
import { ALPACA_EVAL_JUDGE_SAMPLING } from '../src/stages/alpaca-eval.js';

const { values: args } = parseArgs({
  options: {
    ifeval: { type: 'string', default: String(demoPreset.evaluation?.suites?.ifeval?.limit ?? 24) },
    mtbench: { type: 'string', default: String(demoPreset.evaluation?.suites?.mtBench?.limit ?? 4) },
    alpaca: { type: 'string', default: '8' },
    humaneval: { type: 'string', default: '8' },
    runs: { type: 'string', default: '1' },
    'no-full-scoring': { type: 'boolean', default: false },
    batch: { type: 'string', default: String(demoPreset.engine!.batchSize!) },
  },
});
const FULL = { ifeval: 541, mtBench: 80, alpacaEval: 805, humanEval: 164 };
const DEMO_BUDGET_S = 15 * 60;
const DEMO_MODELS = 3;

/** Wraps an engine to add up the wall time spent in its jobs. */
class TimedEngine implements Engine {
  seconds = 0;
  constructor(private readonly inner: Engine) {}
  async run(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent> {
    const t0 = performance.now();
    try {
      return await this.inner.run(job, spec, opts);
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
    }
  }
}

interface Phase {
  suite: string;
  phase: string;
  items: number;
  seconds: number;
  engineSeconds: number;
  newTokens?: number;
  generationSeconds?: number;
}

const tools = loadTools();
const { command, env } = engineCommand(tools);
const engine = new TimedEngine(new SubprocessEngine({ command, env }));
const store = new Store(join(tools.cache, 'bench-suites-store'));
const mock = new MockActivityEnvironment();
/** Runs an activity function as a worker would (heartbeats and cancellation from an activity context). */
const activity = { run: <A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> => mock.run(fn, input) as Promise<R> };
const evaluation = createEvaluationActivities(store, engine);
const models = createModelActivities(store, engine, { env: { CUDA_VISIBLE_DEVICES: '' } });
const dataDir = resolveEvalDir(null, ['ifeval', 'mtBench', 'alpacaEval']);
const preset = demoPreset.evaluation!;
const sampling = preset.sampling as Sampling;
const judgeSampling = preset.judge!.sampling as Sampling;
const answerPrefix = preset.judge!.answerPrefix ?? null; // the demo's judge answers begin "Rating: [["
const seed = 42;
const batchSize = Number(args.batch);

async function timed<T>(suite: string, phase: string, items: number, fn: () => Promise<T>, extra: (r: T) => Partial<Phase> = () => ({})): Promise<{ result: T; phase: Phase }> {
  const e0 = engine.seconds;
  const t0 = performance.now();
  const result = await fn();
  return { result, phase: { suite, phase, items, seconds: (performance.now() - t0) / 1000, engineSeconds: engine.seconds - e0, ...extra(result) } };
}

function generate(model: ModelRef, requests: ArtifactRef, output: string, s: Sampling, stop?: string[]) {
  return activity.run(models.generate, { model, requests, output, sampling: s, seed, batchSize, device: 'cpu', ...(stop ? { stop } : {}) });
}
const genExtra = (r: { newTokens: number; seconds: number }) => ({ newTokens: r.newTokens, generationSeconds: r.seconds });

/** What each suite scored (the base demo model's figures), printed after the timings. */
const figures: string[] = [];
const pct = (e: { value: number; low: number; high: number; n: number }) => `${(100 * e.value).toFixed(1)}% [${(100 * e.low).toFixed(1)}, ${(100 * e.high).toFixed(1)}] (n=${e.n})`;
const mean = (e: { value: number; low: number; high: number; n: number }) => `${e.value.toFixed(2)} [${e.low.toFixed(2)}, ${e.high.toFixed(2)}] (n=${e.n})`;

/** One pass over every suite asked for (a size of 0 skips it), in a fresh run folder; returns its phases. */
async function pass(model: ModelRef, run: string): Promise<Phase[]> {
  const phases: Phase[] = [];
  const label = 'base';
  const dir = `${run}/eval/${label}`;
  const n = { ifeval: Number(args.ifeval), mtBench: Number(args.mtbench), alpacaEval: Number(args.alpaca), humanEval: Number(args.humaneval) };

  // IFEval
  if (n.ifeval > 0) {
    const ifSubset = { run, label, dir: dataDir, limit: n.ifeval, seed };
    const ifReq = await timed('IFEval', 'requests', n.ifeval, () => activity.run(evaluation.buildIfevalRequests, { ...ifSubset, chat: true }));
    const ifGen = await timed('IFEval', 'generate', n.ifeval, () => generate(model, ifReq.result, `${dir}/ifeval.raw.jsonl`, sampling), genExtra);
    const ifScore = await timed('IFEval', 'score (lm-eval checker)', n.ifeval, () => activity.run(evaluation.scoreIfeval, { ...ifSubset, responses: ifGen.result.output }));
    phases.push(ifReq.phase, ifGen.phase, ifScore.phase);
    const f = ifScore.result;
    figures.push(`IFEval (${f.items} prompts): prompt-strict ${pct(f.promptStrict)}, prompt-loose ${pct(f.promptLoose)}, instruction-strict ${pct(f.instructionStrict)}, instruction-loose ${pct(f.instructionLoose)}`);
  }

  // MT-Bench
  if (n.mtBench > 0) {
    const mtSubset = { run, label, dir: dataDir, limit: n.mtBench, seed };
    const t1Req = await timed('MT-Bench', 'requests', n.mtBench, () => activity.run(evaluation.buildMtBenchRequests, { ...mtSubset, chat: true, turn: 1 as const }));
    const t1 = await timed('MT-Bench', 'generate turn 1', n.mtBench, () => generate(model, t1Req.result, `${dir}/mtbench.turn1.raw.jsonl`, sampling), genExtra);
    const t2Req = await timed('MT-Bench', 'requests', n.mtBench, () => activity.run(evaluation.buildMtBenchRequests, { ...mtSubset, chat: true, turn: 2 as const, turn1: t1.result.output }));
    const t2 = await timed('MT-Bench', 'generate turn 2', n.mtBench, () => generate(model, t2Req.result, `${dir}/mtbench.turn2.raw.jsonl`, sampling), genExtra);
    const jReq = await timed('MT-Bench', 'requests', n.mtBench, () => activity.run(evaluation.buildMtBenchJudgeRequests, { ...mtSubset, turn1: t1.result.output, turn2: t2.result.output, answerPrefix }));
    const judge = await timed('MT-Bench', 'judge (2 per question)', n.mtBench, () => generate(model, jReq.result, `${dir}/mtbench.judge.raw.jsonl`, judgeSampling), genExtra);
    const mtScore = await timed('MT-Bench', 'score', n.mtBench, () => activity.run(evaluation.scoreMtBench, { ...mtSubset, judgments: judge.result.output, answerPrefix }));
    phases.push(merge([t1Req.phase, t2Req.phase, jReq.phase]), t1.phase, t2.phase, judge.phase, mtScore.phase);
    const m = mtScore.result;
    figures.push(`MT-Bench (${m.questions} questions, judged by the model itself): turn 1 ${mean(m.turn1Score)}, turn 2 ${mean(m.turn2Score)}, overall ${mean(m.overallScore)}; ${m.unparsable} of ${m.total} judgments unparsable`);
  }

  // AlpacaEval: against the two references (a base model has no earlier model to compare with)
  if (n.alpacaEval > 0) {
    const aSubset = { run, label, dir: dataDir, limit: n.alpacaEval, seed, references: ['gpt4_1106_preview' as const, 'text_davinci_003' as const] };
    const aReq = await timed('AlpacaEval', 'requests', n.alpacaEval, () => activity.run(evaluation.buildAlpacaEvalRequests, { ...aSubset, chat: true }));
    const aGen = await timed('AlpacaEval', 'generate', n.alpacaEval, () => generate(model, aReq.result, `${dir}/alpacaeval.raw.jsonl`, sampling), genExtra);
    const pairs = await timed('AlpacaEval', 'requests', n.alpacaEval, () =>
      activity.run(evaluation.buildAlpacaEvalJudgeRequests, { ...aSubset, outputs: aGen.result.output, againstPrevious: true, againstBase: true }),
    );
    const aJudge = await timed('AlpacaEval', 'judge (2 orders x 2 references)', n.alpacaEval, () =>
      generate(model, pairs.result.requests!, `${dir}/alpacaeval.judge.raw.jsonl`, { ...ALPACA_EVAL_JUDGE_SAMPLING, topP: 1 }),
    genExtra);
    const aScore = await timed('AlpacaEval', 'score (win rates, LC)', n.alpacaEval, () =>
      activity.run(evaluation.scoreAlpacaEval, { ...aSubset, outputs: aGen.result.output, baselines: pairs.result.baselines, judgments: aJudge.result.output }),
    );
    phases.push(merge([aReq.phase, pairs.phase]), aGen.phase, aJudge.phase, aScore.phase);
    for (const c of aScore.result.comparisons) figures.push(`AlpacaEval vs ${c.baseline}: win rate ${pct(c.winRate)}, LC ${c.lcWinRate === null ? '–' : `${(100 * c.lcWinRate).toFixed(1)}%`}, lengths ${c.avgLength.model} vs ${c.avgLength.baseline}, ${c.unparsable} verdicts unparsable`);
  }

  // HumanEval, as the demo model answers it (chat)
  if (n.humanEval > 0) {
    const hSubset = { run, label, limit: n.humanEval, seed, chat: true };
    const hReq = await timed('HumanEval', 'requests', n.humanEval, () => activity.run(evaluation.buildHumanEvalRequests, hSubset));
    const hGen = await timed('HumanEval', 'generate', n.humanEval, () => generate(model, hReq.result, `${dir}/humaneval.raw.jsonl`, sampling), genExtra);
    const hScore = await timed('HumanEval', 'execute (sandbox)', n.humanEval, () =>
      activity.run(evaluation.scoreHumanEval, { ...hSubset, responses: hGen.result.output, timeoutSeconds: 10, memoryMb: 1024, allowNetwork: false }),
    );
    phases.push(hReq.phase, hGen.phase, hScore.phase);
    figures.push(`HumanEval (${hScore.result.problems} problems): pass@1 ${pct(hScore.result.passAt1)}`);
  }
  return phases;
}

/** Full-size scoring: IFEval's checker on all 541 prompts, the sandbox on all 164 canonical solutions. */
async function fullScoring(run: string): Promise<Phase[]> {
  const label = 'full';
  const dir = `${run}/eval/${label}`;
  const ifSubset = { run, label, dir: dataDir, limit: null, seed };
  const requests = await activity.run(evaluation.buildIfevalRequests, { ...ifSubset, chat: true });
  const echo = await store.writeJsonl(
    `${dir}/ifeval.raw.jsonl`,
    (await store.readAll<{ id: string; messages: { content: string }[] }>(requests)).map((r) => ({ id: r.id, text: r.messages.at(-1)!.content })),
  );
  const ifeval = await timed('IFEval', 'score all 541 (lm-eval checker)', FULL.ifeval, () => activity.run(evaluation.scoreIfeval, { ...ifSubset, responses: echo }));

  const problemsDir = mkdtempSync(join(tmpdir(), 'isheep-bench-humaneval-'));
  await engine.run('humaneval-problems', { output: join(problemsDir, 'p.jsonl'), canonical: true }, { specPath: join(problemsDir, 'p.spec.json') });
  const canonical = readFileSync(join(problemsDir, 'p.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; canonical_solution: string });
  const answers = await store.writeJsonl(`${dir}/humaneval.raw.jsonl`, canonical.map((p) => ({ id: p.id, text: p.canonical_solution })));
  const humaneval = await timed('HumanEval', 'execute all 164 canonical (sandbox)', FULL.humanEval, () =>
    activity.run(evaluation.scoreHumanEval, { run, label, limit: null, seed, chat: false, responses: answers, timeoutSeconds: 10, memoryMb: 1024, allowNetwork: false }),
  );
  return [ifeval.phase, humaneval.phase];
}

function merge(phases: Phase[]): Phase {
  return { ...phases[0]!, seconds: phases.reduce((a, p) => a + p.seconds, 0), engineSeconds: phases.reduce((a, p) => a + p.engineSeconds, 0) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Medians over runs, phase by phase (the runs have the same phases in the same order). */
function medians(runs: Phase[][]): Phase[] {
  return runs[0]!.map((p, i) => ({
    ...p,
    seconds: median(runs.map((r) => r[i]!.seconds)),
    engineSeconds: median(runs.map((r) => r[i]!.engineSeconds)),
    ...(p.newTokens !== undefined ? { newTokens: median(runs.map((r) => r[i]!.newTokens!)), generationSeconds: median(runs.map((r) => r[i]!.generationSeconds!)) } : {}),
  }));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main() {
  const runs = Math.max(1, Number(args.runs));
  console.log(`evaluation suites on CPU, the demo model (${DEMO_MODEL}), demo decoding (answers ≤ ${sampling.maxNewTokens} tokens, MT-Bench judge ≤ ${judgeSampling.maxNewTokens}), median of ${runs} run(s)`);
  const model = await activity.run(models.prepareModel, { source: DEMO_MODEL });
  const all: Phase[][] = [];
  const full: Phase[][] = [];
  for (let r = 0; r < runs; r++) {
    const run = `runs/bench-${Date.now()}-${r}`;
    all.push(await pass(model, run));
    if (!args['no-full-scoring']) full.push(await fullScoring(run));
  }
  const phases = medians(all);
  const fullPhases = full.length ? medians(full) : [];
  const rows = [['suite', 'phase', 'items', 'seconds', 'items/s', 'engine share', 'tokens/s', 'model load s']];
  const row = (p: Phase) => [
    p.suite,
    p.phase,
    String(p.items),
    p.seconds.toFixed(1),
    (p.items / p.seconds).toFixed(2),
    `${Math.round((100 * p.engineSeconds) / p.seconds)}%`,
    p.newTokens !== undefined && p.generationSeconds ? (p.newTokens / p.generationSeconds).toFixed(1) : '',
    p.generationSeconds !== undefined ? (p.engineSeconds - p.generationSeconds).toFixed(1) : '',
  ];
  for (const p of [...phases, ...fullPhases]) rows.push(row(p));
  console.log(`\n${table(rows)}\n`);

  const suites = ['IFEval', 'MT-Bench', 'AlpacaEval', 'HumanEval'] as const;
  const fullCount = { IFEval: FULL.ifeval, 'MT-Bench': FULL.mtBench, AlpacaEval: FULL.alpacaEval, HumanEval: FULL.humanEval };
  const summary = [['suite', 'items', 'seconds per model', 's/item', 'engine share', 'one model at full size']];
  let demoSeconds = 0;
  for (const suite of suites) {
    const mine = phases.filter((p) => p.suite === suite);
    if (mine.length === 0) continue;
    const seconds = mine.reduce((a, p) => a + p.seconds, 0);
    const engineSeconds = mine.reduce((a, p) => a + p.engineSeconds, 0);
    const items = mine[0]!.items;
    if (suite === 'IFEval' || suite === 'MT-Bench') demoSeconds += seconds; // the demo runs these two
    const projected = (seconds / items) * fullCount[suite];
    summary.push([suite, String(items), seconds.toFixed(1), (seconds / items).toFixed(2), `${Math.round((100 * engineSeconds) / seconds)}%`, `${(projected / 60).toFixed(0)} min (${fullCount[suite]} items)`]);
  }
  console.log(table(summary));
  console.log(`\nfigures of the base model (greedy; the last run's):\n${figures.slice(-figures.length / runs).map((f) => `  ${f}`).join('\n')}`);
  const demoTotal = demoSeconds * DEMO_MODELS;
  console.log(
    `\ndemo evaluation (IFEval ${args.ifeval} + MT-Bench ${args.mtbench}, ${DEMO_MODELS} models): ${demoTotal.toFixed(0)} s = ${(demoTotal / DEMO_BUDGET_S).toFixed(2)} of the demo's ${DEMO_BUDGET_S / 60}-minute budget`,
  );
}

await main();
