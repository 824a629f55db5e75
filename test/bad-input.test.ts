/**
 * The bad-input catalogue: each thing a careful user can get wrong, run against the real dev server and
 * workers, with the exact outcome asserted — what the message names, whether it failed once or retried, that
 * the worker still serves the next run, and that earlier artifacts are untouched.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { withPreset } from '../src/config/presets.js';
import { SubprocessEngine, type Engine } from '../src/engine/runner.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { engineCommand, loadTools } from '../src/setup/tools.js';
import type { RunResult } from '../src/workflows/types.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

type HistoryEvent = NonNullable<History['events']>[number];

function smallConfig(name: string, over: Record<string, unknown> = {}) {
  return withPreset('demo', {
    name,
    iterations: 1,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 6, promptsPerRound: 2, maxRounds: 3 },
    evaluation: { enabled: false },
    ...over,
  });
}

function start(workflowId: string, config: unknown) {
  return env.client.workflow.start('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId, args: [config] });
}

async function runToEnd(workflowId: string, config: unknown): Promise<RunResult> {
  return (await (await start(workflowId, config)).result()) as RunResult;
}

/** The ApplicationFailure at the bottom of a failed run (through the activity failure, if any). */
async function failureOf(workflowId: string, config: unknown): Promise<ApplicationFailure> {
  const err = await runToEnd(workflowId, config).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause = (err as WorkflowFailedError).cause as (Error & { cause?: unknown }) | undefined;
  while (cause && !(cause instanceof ApplicationFailure)) cause = cause.cause as typeof cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

async function history(workflowId: string): Promise<HistoryEvent[]> {
  return (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

/** How many times each activity type was attempted in a run (the last attempt of each scheduled activity). */
async function attempts(workflowId: string): Promise<Record<string, number>> {
  const events = await history(workflowId);
  const types = new Map<string, string>();
  const out: Record<string, number> = {};
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = types.get(String(started.scheduledEventId)) ?? '?';
      out[type] = Math.max(out[type] ?? 0, started.attempt ?? 1);
    }
  }
  return out;
}

/** Every file of a folder with its sha256, to show that nothing was touched. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(root, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(root);
  return out;
}

/** A history as text with every payload decoded (history JSON carries payload bytes as base64). */
function historyText(events: HistoryEvent[]): string {
  return JSON.stringify(events, (key, value: unknown) => (key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value));
}

function filesContaining(root: string, needle: string): string[] {
  return Object.keys(snapshot(root)).filter((rel) => readFileSync(join(root, rel)).includes(needle));
}

describe('run identity', () => {
  it('refuses a workflow id other than the run name before anything is written', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const cause = await withWorkers(workers, () => failureOf('3f1c9a2e-7d4b-4c1a-9e55-0b8d2f6a1c3e', smallConfig('id-mismatch')));
    expect(cause.type).toBe('InvalidConfig');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('"3f1c9a2e-7d4b-4c1a-9e55-0b8d2f6a1c3e"');
    expect(cause.message).toContain('start it with workflow id "id-mismatch"');
    expect(readdirSync(store.root)).toEqual([]);
    expect((await history('3f1c9a2e-7d4b-4c1a-9e55-0b8d2f6a1c3e')).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('refuses a second run of a finished run\'s name and leaves the first run\'s files byte for byte', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    await withWorkers(workers, async () => {
      const first = await runToEnd('reused-name', smallConfig('reused-name'));
      const before = snapshot(store.root);
      const owner = JSON.parse(readFileSync(store.path('runs/reused-name/run.json'), 'utf8'));
      expect(owner.workflowId).toBe('reused-name');

      // A different config under the same name (as from the Web UI's form with a fresh id policy).
      const cause = await failureOf('reused-name', smallConfig('reused-name', { seed: 7 }));
      expect(cause.type).toBe('BadInput');
      expect(cause.message).toContain(`run folder runs/reused-name belongs to an earlier run of reused-name (run id ${owner.runId}`);
      expect(cause.message).toContain('isheep rm reused-name');
      expect(cause.message).toContain('"resume": true');
      expect(snapshot(store.root)).toEqual(before);
      expect((await attempts('reused-name')).claimRunFolder).toBe(1);
      expect(first.finalModel.uri).toBe('runs/reused-name/iter-1/model');
    });
  });

  it('refuses a new run over a terminated one; with "resume": true it takes the folder over', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine({ FAKE_ENGINE_SLOW_MS: '150' }));
    await withWorkers(workers, async () => {
      const handle = await start('after-terminate', smallConfig('after-terminate'));
      const partial = store.path('runs/after-terminate/iter-1/synthesis/round-0.raw.jsonl.partial');
      await waitFor(() => exists(partial));
      await handle.terminate('changed my mind');
      const oldRun = handle.firstExecutionRunId;

      const cause = await failureOf('after-terminate', smallConfig('after-terminate', { seed: 9 }));
      expect(cause.type).toBe('BadInput');
      expect(cause.message).toContain(`run id ${oldRun}`);

      // Resumed with other seeds: the earlier run's copy of its seeds is kept beside the new one.
      const oldSeeds = readFileSync(store.path('runs/after-terminate/seeds.jsonl'));
      const seedFile = join(store.root, 'other-seeds.jsonl');
      writeFileSync(seedFile, readFileSync(new URL('../data/seed_tasks.jsonl', import.meta.url), 'utf8').split('\n').slice(0, 10).join('\n'));
      const resumed = await runToEnd('after-terminate', smallConfig('after-terminate', { resume: true, seeds: { file: seedFile } }));
      expect(resumed.summaries).toHaveLength(1);
      const owner = JSON.parse(readFileSync(store.path('runs/after-terminate/run.json'), 'utf8'));
      expect(owner.previous.map((p: { runId: string }) => p.runId)).toEqual([oldRun]);
      const kept = readdirSync(store.path('runs/after-terminate')).filter((f) => /^seeds\.[0-9a-f]{12}\.jsonl$/.test(f));
      expect(kept).toHaveLength(1);
      expect(readFileSync(store.path(`runs/after-terminate/${kept[0]}`))).toEqual(oldSeeds);
      expect(readFileSync(store.path('runs/after-terminate/seeds.jsonl'), 'utf8').trim().split('\n')).toHaveLength(10);
    });
  });

  it('refuses a name that would take another run\'s iteration workflow id', async () => {
    expect(() => parseConfig({ name: 'x.iter-1', model: { base: 'm' } })).toThrow(/name: must not contain "\.iter-"/);
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const cause = await withWorkers(workers, () => failureOf('x.iter-1', smallConfig('x.iter-1')));
    expect(cause.type).toBe('InvalidConfig');
    expect(cause.message).toContain('.iter-');
  });
});

describe('bounds', () => {
  it('refuses knobs beyond their limits at once, naming each', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    const config = smallConfig('too-big', {
      synthesis: { promptsPerRound: 100_000_000, minWords: 200, maxWords: 150 },
      engine: { maxAttempts: 1_000_000, heartbeatTimeoutSeconds: 5 },
      assessment: { threshold: 10 },
      training: { epochs: 1e308 },
    });
    const cause = await withWorkers(workers, () => failureOf('too-big', config));
    expect(cause.type).toBe('InvalidConfig');
    for (const [field, why] of [
      ['synthesis.promptsPerRound', '65536'],
      ['synthesis.minWords', 'below synthesis.maxWords'],
      ['engine.maxAttempts', '20'],
      ['engine.heartbeatTimeoutSeconds', 'heartbeat every 10 s'],
      ['assessment.threshold', 'keeps nothing'],
      ['training.epochs', '100'],
    ]) {
      expect(cause.message).toMatch(new RegExp(`${field!.replace('.', '\\.')}: [^\\n]*${why}`));
    }
    expect((await history('too-big')).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('fails once on a seed line over the limit, naming file, line and limit; the worker serves the next run', async () => {
    const store = tempStore();
    const seedFile = join(store.root, 'huge-seeds.jsonl');
    writeFileSync(seedFile, `{"instruction": "Name three rivers in Africa."}\n{"instruction": "${'a'.repeat(50 << 20)}"}\n`);
    const workers = await hostWorkers(env, store, fakeEngine());
    await withWorkers(workers, async () => {
      const cause = await failureOf('huge-seed', smallConfig('huge-seed', { seeds: { file: seedFile } }));
      expect(cause.type).toBe('BadInput');
      expect(cause.message).toContain(`seed file ${seedFile} is not usable`);
      expect(cause.message).toContain('line 2: longer than the limit of 1 MiB');
      expect((await attempts('huge-seed')).loadSeeds).toBe(1);
      // Same workers, same process: still alive and serving.
      const next = await runToEnd('after-huge-seed', smallConfig('after-huge-seed'));
      expect(next.summaries).toHaveLength(1);
    });
  });

  it('fails once on a folder given as seed file, naming the path', async () => {
    const store = tempStore();
    const folder = mkdtempSync(join(tmpdir(), 'isheep-seed-folder-'));
    const workers = await hostWorkers(env, store, fakeEngine());
    const cause = await withWorkers(workers, () => failureOf('seed-folder', smallConfig('seed-folder', { seeds: { file: folder } })));
    expect(cause.type).toBe('BadInput');
    expect(cause.message).toContain(`seed file ${folder} is not usable`);
    expect(cause.message).toContain('it is a folder, not a JSONL file');
    expect((await attempts('seed-folder')).loadSeeds).toBe(1);
  });

  it('schedules data activities with a heartbeat timeout, so a dead data worker is noticed in a minute', async () => {
    const store = tempStore();
    const workers = await hostWorkers(env, store, fakeEngine());
    await withWorkers(workers, () => runToEnd('data-heartbeat', smallConfig('data-heartbeat')));
    const events = [...(await history('data-heartbeat')), ...(await history('data-heartbeat.iter-1'))];
    const data = events.map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.taskQueue?.name === 'isheep-cpu');
    expect(data.length).toBeGreaterThan(5);
    for (const a of data) expect(Number(a!.heartbeatTimeout?.seconds)).toBe(60);
  });
});

describe('seeds and models', () => {
  it('refuses a seed file that is not UTF-8, naming file, line and column', async () => {
    const store = tempStore();
    const seedFile = join(store.root, 'latin1.jsonl');
    writeFileSync(seedFile, Buffer.concat([Buffer.from('{"instruction": "caf'), Buffer.from([0xe9]), Buffer.from(' au lait, please."}\n')]));
    const workers = await hostWorkers(env, store, fakeEngine());
    const cause = await withWorkers(workers, () => failureOf('latin1-seeds', smallConfig('latin1-seeds', { seeds: { file: seedFile } })));
    expect(cause.type).toBe('BadInput');
    expect(cause.message).toContain(seedFile);
    expect(cause.message).toContain('line 1, column 21: not UTF-8 (byte 0xe9)');
    expect(readdirSync(store.path('runs/latin1-seeds'))).toEqual(['run.json']); // no seeds.jsonl with U+FFFD in it
  });

  it('imports a local model folder again when its content changed, and reuses it when it did not', async () => {
    const store = tempStore();
    const folder = mkdtempSync(join(tmpdir(), 'isheep-local-model-'));
    writeFileSync(join(folder, 'config.json'), '{"model_type": "llama"}');
    writeFileSync(join(folder, 'model.safetensors'), 'weights, first version');
    const workers = await hostWorkers(env, store, fakeEngine());
    const modelsUsed = async (name: string) => {
      await runToEnd(name, smallConfig(name, { model: { base: folder } }));
      return JSON.parse(readFileSync(store.path(`runs/${name}/iter-1/model.spec.json`), 'utf8')).base_model as string;
    };
    await withWorkers(workers, async () => {
      const first = await modelsUsed('local-model-1');
      const same = await modelsUsed('local-model-2');
      writeFileSync(join(folder, 'model.safetensors'), 'weights, second version');
      const changed = await modelsUsed('local-model-3');
      expect(same).toBe(first);
      expect(changed).not.toBe(first);
      expect(readdirSync(store.path('models')).filter((d) => !d.startsWith('.') && statSync(store.path(`models/${d}`)).isDirectory())).toHaveLength(2);
    });
  });
});

describe('endpoints and secrets', () => {
  let judge: RecordingJudge;
  beforeAll(async () => {
    judge = await recordingJudge();
  });
  afterAll(() => judge?.server.close());

  it('refuses credentials in an endpoint URL without repeating them', () => {
    const raw = smallConfig('creds', { assessment: { grader: 'external', endpoint: { baseUrl: 'http://judge:hunter2@127.0.0.1:9/v1', model: 'j' } } });
    let message = '';
    try {
      parseConfig(raw);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('assessment.endpoint.baseUrl: must not carry credentials');
    expect(message).not.toContain('hunter2');
  });

  it('refuses a key variable or a host that the worker does not allow, and calls nothing', async () => {
    const store = tempStore();
    const policy = { keys: ['JUDGE_API_KEY'], hosts: [judge.host] };
    const workers = await hostWorkers(env, store, fakeEngine(), undefined, policy);
    const external = (baseUrl: string, apiKeyEnv: string) => ({ assessment: { grader: 'external', endpoint: { baseUrl, model: 'judge', apiKeyEnv } } });
    await withWorkers(workers, async () => {
      const key = await failureOf('endpoint-key', smallConfig('endpoint-key', external(`http://${judge.host}/v1`, 'TEMPORAL_API_KEY')));
      expect(key.type).toBe('BadInput');
      expect(key.message).toBe(
        'assessment.endpoint.apiKeyEnv names TEMPORAL_API_KEY, which this worker does not let endpoints read; its ISHEEP_ENDPOINT_KEYS allows JUDGE_API_KEY',
      );
      expect((await attempts('endpoint-key.iter-1')).generate).toBe(1);

      const host = await failureOf('endpoint-host', smallConfig('endpoint-host', external('http://127.0.0.2:9/v1', 'JUDGE_API_KEY')));
      expect(host.message).toBe(`assessment.endpoint.baseUrl points at 127.0.0.2:9, which this worker may not call; its ISHEEP_ENDPOINT_HOSTS allows ${judge.host}`);
    });
    expect(judge.requests).toHaveLength(0);
  });

  it('sends an allowed key to an allowed host, and neither the history nor the store holds it', async () => {
    const store = tempStore();
    const secret = `sk-test-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;
    const real = new SubprocessEngine({ ...engineCommand(loadTools()), env: { ...engineCommand(loadTools()).env, JUDGE_API_KEY: secret } });
    const workers = await hostWorkers(env, store, gradingThrough(real, fakeEngine()), undefined, { keys: ['JUDGE_API_KEY'], hosts: [judge.host] });
    const config = smallConfig('external-judge', {
      assessment: { grader: 'external', endpoint: { baseUrl: `http://${judge.host}/v1`, model: 'judge', apiKeyEnv: 'JUDGE_API_KEY' } },
    });
    const result = await withWorkers(workers, () => runToEnd('external-judge', config));
    expect(result.summaries[0]!.kept).toBeGreaterThan(0); // the judge's 9s were read
    expect(judge.requests.length).toBeGreaterThan(0);
    expect(judge.requests.every((r) => r.authorization === `Bearer ${secret}`)).toBe(true);
    const histories = historyText([...(await history('external-judge')), ...(await history('external-judge.iter-1'))]);
    expect(histories).toContain('JUDGE_API_KEY');
    expect(histories).not.toContain(secret);
    expect(filesContaining(store.root, secret)).toEqual([]);
  });
});

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(test: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface RecordingJudge {
  server: Server;
  host: string;
  requests: { url: string; authorization: string | undefined }[];
}

/** An OpenAI-compatible grader on loopback that answers every judgment with a 9 and records what it got. */
async function recordingJudge(): Promise<RecordingJudge> {
  const requests: RecordingJudge['requests'] = [];
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: '9||A complete, correct answer.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 5 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** The real engine for jobs that call an endpoint, the test double for the rest (no model on this machine's budget). */
function gradingThrough(real: Engine, fake: Engine): Engine {
  return { run: (job, spec, opts) => (job === 'generate' && spec.backend === 'openai' ? real : fake).run(job, spec, opts) };
}
