/**
 * Crash tests on a real dev server: a slot worker killed with SIGKILL in the middle of a generation shard and
 * in the middle of training, and the dev server itself killed and restarted from its SQLite file. Each time a
 * fresh worker picks the job up, and the run ends with outputs identical to an undisturbed run with the
 * same seeds: no pair lost, none duplicated.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/artifacts/store.js';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { loadTools } from '../src/setup/tools.js';
import { MIN_HEARTBEAT_TIMEOUT_S } from '../src/heartbeat.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { createHostWorkers } from '../src/worker/workers.js';
import type { RunResult } from '../src/workflows/types.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers, workflowBundle } from './support/env.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./support/worker-process.ts', import.meta.url));

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

/** Small, and with the shortest heartbeat timeout a config may have (30 s), so a dead worker is noticed soon. */
function crashConfig(name: string, over: Record<string, unknown> = {}) {
  return withPreset('demo', {
    name,
    iterations: 1,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 16, promptsPerRound: 4, maxRounds: 4 },
    evaluation: { enabled: false },
    engine: { shardSize: 8, heartbeatTimeoutSeconds: MIN_HEARTBEAT_TIMEOUT_S, saveSteps: 1 },
    training: { epochs: 4 },
    ...over,
  });
}

/** Files whose bytes must match between a disturbed and an undisturbed run. */
const OUTPUTS = ['iter-1/responses.raw.jsonl', 'iter-1/pairs.jsonl', 'iter-1/assessment/quality.raw.jsonl', 'iter-1/kept.jsonl', 'iter-1/export/alpaca.jsonl'];

function digest(store: Store, run: string, file: string): string {
  return createHash('sha256').update(readFileSync(store.path(`runs/${run}/${file}`))).digest('hex');
}

function trainedOn(store: Store, run: string): string {
  return JSON.parse(readFileSync(store.path(`runs/${run}/iter-1/model/config.json`), 'utf8')).data_sha256;
}

async function undisturbedRun(store: Store, name: string, over: Record<string, unknown> = {}): Promise<RunResult> {
  const workers = await hostWorkers(env, store, fakeEngine());
  return withWorkers(workers, () =>
    env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: name, args: [crashConfig(name, over)] }),
  ) as Promise<RunResult>;
}

function startWorkerProcess(address: string, store: Store, extra: Record<string, string> = {}): Promise<ChildProcess> {
  // node itself with tsx's loader (not the tsx CLI, which would put a wrapper process between us and the worker).
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, ISHEEP_STORE: store.root, ...extra },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker process exited early with ${code}`)));
  });
}

async function waitFor(what: string, test: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Training checkpoints (step-N.json) and when each was written. */
function stepFiles(dir: string): Map<string, number> {
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir).filter((f) => f.startsWith('step-')).map((f) => [f, statSync(join(dir, f)).mtimeMs]));
}

function lines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Partial files of the response shards that hold at least `n` rows. */
function responsesUnderWay(store: Store, run: string, n: number): boolean {
  const dir = store.path(`runs/${run}/iter-1/responses.raw.jsonl.shards`);
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((f) => f.endsWith('.partial') && lines(join(dir, f)) >= n);
}

async function attemptsOf(client: Client, workflowId: string, activity: string): Promise<number[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === activity) attempts.push(started.attempt ?? 1);
  }
  return attempts;
}

describe('crashes cost minutes, not the run', () => {
  it('a slot worker killed -9 in the middle of a generation shard: a fresh worker resumes it, nothing lost or doubled', async () => {
    const reference = tempStore();
    await undisturbedRun(reference, 'crash-gen');

    const store = tempStore();
    const control = await hostWorkers(env, store, fakeEngine(), { models: false });
    const result = await withWorkers(
      control,
      async () => {
        const first = await startWorkerProcess(env.address, store, { FAKE_ENGINE_SLOW_MS: '150' });
        const handle = await env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'crash-gen', args: [crashConfig('crash-gen')] });
        await waitFor('a response shard half done', () => responsesUnderWay(store, 'crash-gen', 2));
        first.kill('SIGKILL');
        const second = await startWorkerProcess(env.address, store);
        try {
          return (await handle.result()) as RunResult;
        } finally {
          second.kill('SIGTERM');
        }
      },
    );

    expect(result.summaries[0]!.kept).toBeGreaterThan(0);
    for (const file of OUTPUTS) expect(digest(store, 'crash-gen', file), file).toBe(digest(reference, 'crash-gen', file));
    expect(trainedOn(store, 'crash-gen')).toBe(trainedOn(reference, 'crash-gen'));
    expect(Math.max(...(await attemptsOf(env.client, 'crash-gen.iter-1', 'generate')))).toBeGreaterThan(1);
  });

  it('a slot worker killed -9 in the middle of training: the retry resumes from the last checkpoint', async () => {
    const reference = tempStore();
    await undisturbedRun(reference, 'crash-train');

    const store = tempStore();
    const control = await hostWorkers(env, store, fakeEngine(), { models: false });
    let checkpointsAtKill = new Map<string, number>();
    await withWorkers(
      control,
      async () => {
        const first = await startWorkerProcess(env.address, store, { FAKE_ENGINE_SLOW_MS: '300' });
        const handle = await env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'crash-train', args: [crashConfig('crash-train')] });
        const work = store.path('runs/crash-train/iter-1/model.work');
        await waitFor('two training checkpoints', () => existsSync(work) && readdirSync(work).filter((f) => f.startsWith('step-')).length >= 2, 120_000);
        first.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 500)); // the orphaned job notices and stops
        checkpointsAtKill = stepFiles(work);
        const second = await startWorkerProcess(env.address, store);
        try {
          return await handle.result();
        } finally {
          second.kill('SIGTERM');
        }
      },
    );
    // The retry carried on after the last checkpoint: the steps done before the kill were not run again.
    const after = stepFiles(store.path('runs/crash-train/iter-1/model.work'));
    expect(checkpointsAtKill.size).toBeGreaterThanOrEqual(2);
    for (const [file, mtime] of checkpointsAtKill) expect(after.get(file), file).toBe(mtime);
    expect(after.size).toBeGreaterThan(checkpointsAtKill.size);

    expect(trainedOn(store, 'crash-train')).toBe(trainedOn(reference, 'crash-train'));
    const trainSpec = JSON.parse(readFileSync(store.path('runs/crash-train/iter-1/model.spec.json'), 'utf8'));
    expect(trainSpec.save_steps).toBe(1);
    expect(Math.max(...(await attemptsOf(env.client, 'crash-train.iter-1', 'train')))).toBe(2);
  });

  it('the dev server killed and restarted from its SQLite file: the run goes on and ends the same', async () => {
    const reference = tempStore();
    await undisturbedRun(reference, 'crash-server');

    const cli = loadTools().temporalCli;
    expect(cli).not.toBeNull();
    const stateDir = mkdtempSync(join(tmpdir(), 'isheep-server-'));
    const port = await freePort();
    let server = await startDevServer({ cli: cli!, stateDir, port, uiPort: null });
    const store = tempStore();
    const connection = await NativeConnection.connect({ address: server.address });
    const workers = await createHostWorkers({
      connection,
      namespace: 'default',
      store,
      engine: fakeEngine({ FAKE_ENGINE_SLOW_MS: '100' }),
      slots: [{ devices: null }],
      workflowBundle: await workflowBundle(),
    });
    try {
      const result = await withWorkers(workers, async () => {
        const client = new Client({ connection: await Connection.connect({ address: server.address }) });
        await client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: 'crash-server', args: [crashConfig('crash-server')] });
        await waitFor('a response shard half done', () => responsesUnderWay(store, 'crash-server', 2));
        server.process!.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 1000));
        server = await startDevServer({ cli: cli!, stateDir, port, uiPort: null });
        // The client's connection reconnects on its own; ask again until the server answers.
        const deadline = Date.now() + 120_000;
        for (;;) {
          try {
            return (await client.workflow.getHandle('crash-server').result()) as RunResult;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      });
      expect(result.summaries[0]!.kept).toBeGreaterThan(0);
      for (const file of OUTPUTS) expect(digest(store, 'crash-server', file), file).toBe(digest(reference, 'crash-server', file));
      expect(trainedOn(store, 'crash-server')).toBe(trainedOn(reference, 'crash-server'));
    } finally {
      await connection.close();
      await server.stop();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}
