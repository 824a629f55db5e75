/**
 * Prometheus metrics: a whole small run on the dev server with the test engine, its workers in a process of
 * their own whose Runtime serves metrics (as `isheep worker --metrics-port` installs it; the test process shares
 * one Runtime without an exporter). /metrics is scraped while training runs and after the run, and must hold the
 * Temporal SDK's metrics and ours, with the figures the run's own files and data card give.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageOf } from '../src/activities/metrics.js';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import type { IterationCard, RunResult } from '../src/workflows/types.js';
import { startTemporal, tempStore } from './support/env.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./support/worker-process.ts', import.meta.url));

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of the Prometheus text format (name{label="value",...} value), comments skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return samples;
}

/** The samples of `name` whose labels include `labels`. */
const pick = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}) => pick(samples, name, labels).reduce((a, s) => a + s.value, 0);
const one = (samples: Sample[], name: string, labels: Record<string, string> = {}) => {
  const found = pick(samples, name, labels);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]!.value;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function startWorkerProcess(extra: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, WORKER_ROLES: 'workflows,data,models', ...extra },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker process exited early with ${code}`)));
  });
}

const rows = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('stageOf', () => {
  it('names the run and the stage of an engine spec from its path, shards as their stage', () => {
    const cases: [string, string | null, string][] = [
      ['/s/runs/r1/iter-2/synthesis/round-3.raw.jsonl.spec.json', 'r1', 'synthesis'],
      ['/s/runs/r1/iter-1/responses.raw.jsonl.shards/0002.jsonl.spec.json', 'r1', 'responses'],
      ['/s/runs/r1/iter-1/assessment/following.raw.jsonl.spec.json', 'r1', 'assessment_following'],
      ['/s/runs/r1/iter-1/model.spec.json', 'r1', 'train'],
      ['/s/runs/r1/eval/iter-1/ifeval.raw.jsonl.spec.json', 'r1', 'eval_ifeval'],
      ['/s/runs/r1/eval/iter-1/ifeval.scores.jsonl.spec.json', 'r1', 'eval_ifeval'],
      ['/s/runs/r1/eval/base/mtbench.turn2.raw.jsonl.spec.json', 'r1', 'eval_mtbench_turn2'],
      ['/s/runs/r1/eval/iter-2/first-answers.raw.jsonl.spec.json', 'r1', 'eval_first_answers'],
      ['/s/runs/r1/eval/base/alpacaeval.judge.raw.jsonl.shards/0000.jsonl.spec.json', 'r1', 'eval_alpacaeval_judge'],
      ['/s/runs/r1/eval/humaneval.problems.jsonl.spec.json', 'r1', 'eval_humaneval'],
      ['/s/runs/r1/eval/iter-1.raw.jsonl.spec.json', 'r1', 'eval_smoke'],
      ['/s/models/fake-model-0123456789ab.spec.json', null, 'import'],
      ['/s/elsewhere/x.spec.json', null, 'other'],
    ];
    for (const [path, run, stage] of cases) expect(stageOf(path), path).toEqual({ run, stage });
  });
});

describe('isheep worker --metrics-port', () => {
  it("serves the SDK's metrics of the CLI's own workers on the port it is given, and says where", async () => {
    const port = await freePort();
    const ROOT = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'cli', 'main.ts'), 'worker', '--gpus', 'none', '--metrics-port', String(port), '--metrics-host', '127.0.0.1'], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', ISHEEP_STORE: tempStore().root },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('workers running')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`isheep worker exited with ${code}: ${stdout}`)));
      });
      expect(stdout).toContain(`Prometheus metrics at http://127.0.0.1:${port}/metrics`);
      const samples = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      for (const queue of ['isheep', 'isheep-cpu', 'isheep-gpu']) expect(pick(samples, 'temporal_worker_task_slots_available', { task_queue: queue }).length, queue).toBeGreaterThan(0);
      expect(one(samples, 'temporal_worker_task_slots_available', { task_queue: 'isheep-gpu' })).toBe(1); // one model job at a time per slot
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });
});

describe('Prometheus metrics of a run', () => {
  it("serves the SDK's metrics and ours on the worker's metrics port, live during training and with the run's figures after it", async () => {
    const store = tempStore();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const scrape = async () => parseExposition(await (await fetch(url)).text());
    // 60 ms per generated row and per training step: training (8 steps) lasts long enough to be scraped.
    const worker = await startWorkerProcess({ ISHEEP_STORE: store.root, ISHEEP_METRICS_PORT: String(port), FAKE_ENGINE_SLOW_MS: '60' });
    const name = 'metrics-run';
    try {
      const cfg = withPreset('demo', {
        name,
        iterations: 1,
        model: { base: 'fake-model' },
        synthesis: { targetInstructions: 6, promptsPerRound: 2, maxRounds: 3 },
        training: { maxSteps: 8 },
        engine: { shardSize: 16 },
        evaluation: { suites: { ifeval: { limit: 4 }, mtBench: { limit: 2 }, alpacaEval: { enabled: true, limit: 2 } } },
      });
      const handle = await env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: name, args: [cfg] });

      // While the train job runs: its step and loss (the test engine's loss is 2 / step) from its progress events.
      const firstStep = store.path(`runs/${name}/iter-1/model.work/step-1.json`);
      const deadline = Date.now() + 120_000;
      while (!existsSync(firstStep)) {
        if (Date.now() > deadline) throw new Error('training never started');
        await new Promise((r) => setTimeout(r, 20));
      }
      const live = await scrape();
      const step = one(live, 'isheep_train_step', { run: name });
      expect(step).toBeGreaterThanOrEqual(1);
      expect(step).toBeLessThanOrEqual(8);
      const liveLoss = one(live, 'isheep_train_loss', { run: name });
      expect([1, 2, 3, 4, 5, 6, 7, 8].some((s) => Math.abs(liveLoss - 2 / s) < 1e-9), `live loss ${liveLoss}`).toBe(true);
      expect(pick(live, 'temporal_worker_task_slots_available').length).toBeGreaterThan(0);

      const result = (await handle.result()) as RunResult;
      expect(result.summaries).toHaveLength(1);
      const m = await scrape();
      const run = store.path(`runs/${name}`);
      const card = JSON.parse(readFileSync(`${run}/iter-1/card.json`, 'utf8')) as IterationCard;

      // The SDK's own: both workflows completed, every activity timed, the workers' slots.
      expect(sum(m, 'temporal_workflow_completed', { workflow_type: 'iSheepRun' })).toBe(1);
      expect(sum(m, 'temporal_workflow_completed', { workflow_type: 'iSheepIteration' })).toBe(1);
      const generateActivities = sum(m, 'temporal_activity_execution_latency_count', { activity_type: 'generate' });
      expect(generateActivities).toBeGreaterThan(5);

      // Engine job durations by job and stage: one generate job per generate activity, all ok, within the histogram.
      expect(sum(m, 'isheep_engine_job_seconds_count', { job: 'generate' })).toBe(generateActivities);
      expect(sum(m, 'isheep_engine_job_seconds_count', { job: 'generate', outcome: 'ok' })).toBe(generateActivities);
      // IFEval's and MT-Bench's first answers are one job (eval_first_answers) when both suites run, as here.
      for (const stage of ['synthesis', 'responses', 'assessment_quality', 'assessment_following', 'eval_first_answers', 'eval_mtbench_turn2', 'eval_mtbench_judge', 'eval_alpacaeval_judge']) {
        expect(sum(m, 'isheep_engine_job_seconds_count', { job: 'generate', stage }), stage).toBeGreaterThanOrEqual(1);
      }
      expect(one(m, 'isheep_engine_job_seconds_count', { job: 'train', stage: 'train', outcome: 'ok' })).toBe(1);
      const trainSeconds = one(m, 'isheep_engine_job_seconds_sum', { job: 'train', stage: 'train', outcome: 'ok' });
      expect(trainSeconds).toBeGreaterThan(8 * 0.06); // eight steps of 60 ms
      expect(trainSeconds).toBeLessThan(60);
      expect(one(m, 'isheep_engine_job_seconds_count', { job: 'import-model', stage: 'import', outcome: 'ok' })).toBe(1);
      expect(sum(m, 'isheep_engine_job_seconds_count', { job: 'score-ifeval', stage: 'eval_ifeval' })).toBe(2); // base and M_1
      const inf = pick(m, 'isheep_engine_job_seconds_bucket', { job: 'train', le: '+Inf' });
      expect(inf.map((s) => s.value)).toEqual([1]);

      // Generation: rows and tokens as many as the raw outputs hold; throughput from the engine's result (1000 tokens/s).
      const responses = rows(`${run}/iter-1/responses.raw.jsonl`);
      expect(sum(m, 'isheep_generated_rows_total', { stage: 'responses' })).toBe(responses.length);
      expect(sum(m, 'isheep_generated_tokens_total', { stage: 'responses' })).toBe(responses.reduce((a, r) => a + Number(r.new_tokens), 0));
      expect(card.generation.find((g) => g.stage === 'responses')!.newTokens).toBe(sum(m, 'isheep_generated_tokens_total', { stage: 'responses' }));
      expect(one(m, 'isheep_generation_tokens_per_second', { stage: 'responses', slot: '0', devices: 'cpu' })).toBe(1000);
      const rowsPerSecond = one(m, 'isheep_generation_rows_per_second', { stage: 'responses' });
      expect(rowsPerSecond).toBeGreaterThan(0);
      expect(rowsPerSecond).toBeCloseTo((responses.length * 1000) / sum(m, 'isheep_generated_tokens_total', { stage: 'responses' }), 6);

      // Keep rates per stage, the same as the data card's counts.
      expect(sum(m, 'isheep_stage_rows_in_total', { stage: 'rule_filter' })).toBe(card.responses!.in);
      expect(sum(m, 'isheep_stage_rows_kept_total', { stage: 'rule_filter' })).toBe(card.responses!.kept);
      expect(one(m, 'isheep_stage_keep_ratio', { run: name, stage: 'assessment' })).toBeCloseTo(card.assessment!.kept / card.assessment!.in, 12);
      expect(sum(m, 'isheep_stage_rows_kept_total', { stage: 'assessment' })).toBe(card.assessment!.kept);
      for (const [reason, n] of Object.entries(card.assessment!.dropped)) {
        expect(sum(m, 'isheep_stage_rows_dropped_total', { stage: 'assessment', reason }), reason).toBe(n);
      }
      expect(sum(m, 'isheep_stage_rows_kept_total', { stage: 'synthesis' })).toBe(card.synthesis.accepted);
      const synthesisRatio = one(m, 'isheep_stage_keep_ratio', { run: name, stage: 'synthesis' });
      expect(synthesisRatio).toBeGreaterThan(0);
      expect(synthesisRatio).toBeLessThanOrEqual(1);

      // Unparsable judgments: the self-assessment's (every judgment without a 1–10 score), MT-Bench's, AlpacaEval's.
      const scored = (h: number[]) => h.reduce((a, b) => a + b, 0);
      expect(one(m, 'isheep_judgments_total', { stage: 'assessment_quality' })).toBe(card.assessment!.in);
      expect(one(m, 'isheep_unparsable_judgments_total', { stage: 'assessment_quality' })).toBe(card.assessment!.in - scored(card.assessment!.histograms.quality));
      expect(one(m, 'isheep_unparsable_judgments_total', { stage: 'assessment_quality' })).toBeGreaterThan(0); // the test grader misses one in ten
      expect(sum(m, 'isheep_judgments_total', { stage: 'eval_mtbench' })).toBe(2 * card.suites!.mtBench!.total); // base and M_1
      expect(sum(m, 'isheep_unparsable_judgments_total', { stage: 'eval_mtbench' })).toBe(
        card.suites!.mtBench!.unparsable + result.baselineSuites!.mtBench!.unparsable,
      );
      const alpaca = [...card.suites!.alpacaEval!.comparisons, ...result.baselineSuites!.alpacaEval!.comparisons];
      expect(sum(m, 'isheep_unparsable_judgments_total', { stage: 'eval_alpacaeval' })).toBe(alpaca.reduce((a, c) => a + c.unparsable, 0));
      expect(sum(m, 'isheep_judgments_total', { stage: 'eval_alpacaeval' })).toBe(alpaca.reduce((a, c) => a + 2 * (2 - c.identical), 0));

      // Training loss: the train job's result once it is done.
      const training = card.training!;
      expect(training.skipped).toBe(false);
      expect(one(m, 'isheep_train_loss', { run: name })).toBe(training.skipped ? NaN : training.trainLoss);
      expect(one(m, 'isheep_train_eval_loss', { run: name })).toBe(1.7);
      expect(one(m, 'isheep_train_step', { run: name })).toBe(8);

      // The Grafana dashboard (docker/grafana/dashboards/isheep.json) asks for metrics that exist: all of ours, and
      // the SDK's but those that only appear once something failed.
      const dashboard = JSON.parse(readFileSync(new URL('../docker/grafana/dashboards/isheep.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
      const asked = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b(?:isheep|temporal)_[a-z_]+/g)].map((x) => x[0]))));
      const served = new Set(m.map((sample) => sample.name));
      expect(asked.size).toBeGreaterThan(15);
      for (const metric of asked) if (!/_fail(ed|ure)$/.test(metric)) expect(served.has(metric), metric).toBe(true);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
