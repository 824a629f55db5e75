/**
 * The command line as people run it: `tsx src/cli/main.ts …` in a subprocess against the pinned dev server,
 * with this process's workers and the fake engine behind it. Exit codes and messages are what is checked.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { defaultFailureConverter, defaultPayloadConverter, type LoadedDataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { describeActivity, renderBars } from '../src/cli/live.js';
import { loadTools } from '../src/setup/tools.js';
import { retiredVariablesWarning, temporalTarget } from '../src/temporal/connection.js';
import { startRun } from '../src/temporal/start-run.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { pauseSignal, resumeSignal } from '../src/workflows/messages.js';
import type { Store } from '../src/artifacts/store.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore } from './support/env.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end, with the standard client settings pointing at `address` and nothing from ~/.config. */
function isheep(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(TSX, [MAIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', fail);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // Nothing of the developer's own Temporal settings: no config file, no profile, no credentials.
  const hermetic = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_CLI_PATH').map((k) => [k, undefined]));
  const merged: NodeJS.ProcessEnv = { ...process.env, ...hermetic, TEMPORAL_CONFIG_FILE: join(tmpdir(), 'isheep-no-such-temporal.toml'), ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return merged;
}

function smallConfig(name?: string, iterations = 1): Record<string, unknown> {
  return {
    ...(name ? { name } : {}),
    iterations,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 8, promptsPerRound: 2, maxRounds: 5 },
    evaluation: { enabled: false },
    engine: { shardSize: 4 },
  };
}

async function waitUntil(test: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}

describe('isheep against a dev server', () => {
  let env: TestWorkflowEnvironment;
  let store: Store;
  let workers: Worker[];
  let running: Promise<unknown>;
  let cli: (args: string[], extra?: Record<string, string | undefined>) => Promise<Ran>;

  beforeAll(async () => {
    env = await startTemporal();
    store = tempStore();
    workers = await hostWorkers(env, store, fakeEngine());
    running = Promise.all(workers.map((w) => w.run()));
    cli = (args, extra = {}) => isheep(args, { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: undefined, ISHEEP_STORE: store.root, ...extra });
  });
  afterAll(async () => {
    workers?.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    await running;
    await env?.teardown();
  });

  const startSmall = (name: string, iterations = 1) => startRun(env.client, 'default', withPreset('demo', smallConfig(name, iterations)) as { name: string });

  describe('status and report say how a run ended', () => {
    it('a failed run: its status, its cause, a non-zero exit', async () => {
      // Past the CLI's own check, as from the Web UI: the workflow refuses the config and fails.
      const handle = await env.client.workflow.start('iSheepRun', {
        taskQueue: WORKFLOW_QUEUE,
        workflowId: 'cli-failed',
        args: [{ ...withPreset('demo', smallConfig('cli-failed')), iterations: 0 }],
      });
      await handle.result().catch(() => {});

      const status = await cli(['status', 'cli-failed']);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/^run cli-failed FAILED after \d+\.\d min: invalid run config:\n {2}- iterations: /);

      const report = await cli(['report', 'cli-failed']);
      expect(report.code).toBe(1);
      expect(report.stderr).toMatch(/^isheep: run cli-failed FAILED after \d+\.\d min: invalid run config:\n {2}- iterations: /);
    });

    it('a terminated run: its status and the reason', async () => {
      const handle = await startSmall('cli-terminated', 3);
      await handle.terminate('ended by the test');
      const status = await cli(['status', 'cli-terminated']);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/^run cli-terminated TERMINATED after \d+\.\d min: ended by the test\n$/);
      const report = await cli(['report', 'cli-terminated']);
      expect(report.code).toBe(1);
      expect(report.stderr).toContain('run cli-terminated TERMINATED after');
      expect(report.stderr).toContain(': ended by the test');
    });

    it('an unknown name: says there is no such run', async () => {
      for (const command of ['status', 'report']) {
        const r = await cli([command, 'cli-no-such-run']);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe('isheep: no run named cli-no-such-run in namespace default\n');
      }
    });

    it('a running run: its live progress, exit 0', async () => {
      const handle = await startSmall('cli-running', 2);
      await handle.signal(pauseSignal); // holds it at the start of iteration 1, however fast the fake engine is
      const status = await cli(['status', 'cli-running']);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^(preparing|iterating|iteration 1\/2 · \w+) \(paused\)/);
      await handle.terminate('done with it');
    });

    it('report: "finished in" is the run\'s own time on the server, not the command\'s', async () => {
      const handle = await startSmall('cli-report');
      await handle.signal(pauseSignal);
      await sleep(4_000); // ≥ 0.1 min of the run's own time, before the report command even starts
      await handle.signal(resumeSignal);
      await handle.result();
      const d = await handle.describe();
      const minutes = ((d.closeTime!.getTime() - d.startTime.getTime()) / 60_000).toFixed(1);
      expect(minutes).not.toBe('0.0');

      const report = await cli(['report', 'cli-report']);
      expect(report.code).toBe(0);
      expect(report.stdout).toContain(`I-SHEEP run cli-report finished in ${minutes} min\n`);
      expect(report.stdout).toContain(`artifacts:   ${join(store.root, 'runs/cli-report')}`);
      const status = await cli(['status', 'cli-report']);
      expect(status).toMatchObject({ code: 0, stdout: `run cli-report completed in ${minutes} min\n` });
    });
  });

  describe('start: names and names taken', () => {
    const configFile = (config: Record<string, unknown>) => {
      const dir = mkdtempSync(join(tmpdir(), 'isheep-config-'));
      const file = join(dir, 'run.json');
      writeFileSync(file, JSON.stringify(config));
      return file;
    };
    const workflowExists = (id: string) =>
      env.client.workflow
        .getHandle(id)
        .describe()
        .then(() => true, () => false);

    it('takes the name from --name, else --set name=, else the file, else <preset>-<timestamp>', async () => {
      const file = configFile(smallConfig('cli-from-file'));
      expect(await cli(['start', '--config', file])).toMatchObject({ code: 0, stdout: 'started cli-from-file\n' });
      expect(await cli(['start', '--config', file, '--set', 'name=cli-from-set'])).toMatchObject({ code: 0, stdout: 'started cli-from-set\n' });
      expect(await cli(['start', '--config', file, '--set', 'name=cli-not-this', '--name', 'cli-from-flag'])).toMatchObject({
        code: 0,
        stdout: 'started cli-from-flag\n',
      });
      for (const id of ['cli-from-file', 'cli-from-set', 'cli-from-flag']) expect(await workflowExists(id)).toBe(true);
      expect(await workflowExists('cli-not-this')).toBe(false);

      const unnamed = await cli(['start', '--config', configFile(smallConfig())]);
      expect(unnamed.code).toBe(0);
      const name = /^started (demo-\d{8}-\d{6})\n$/.exec(unnamed.stdout)?.[1];
      expect(name).toBeDefined();
      expect(await workflowExists(name!)).toBe(true);
    });

    it('refuses a name in use: a running run, a closed one; --resume takes a closed one over', async () => {
      const file = configFile(smallConfig('cli-taken'));
      expect((await cli(['start', '--config', file])).code).toBe(0);
      const handle = env.client.workflow.getHandle('cli-taken');
      await handle.signal(pauseSignal);

      const whileRunning = await cli(['start', '--config', file]);
      expect(whileRunning.code).toBe(1);
      expect(whileRunning.stderr).toBe(
        'isheep: run cli-taken is running already: `isheep status cli-taken` shows where it is, `isheep stop cli-taken` ends it after its current iteration\n',
      );
      expect((await cli(['start', '--config', file, '--resume'])).stderr).toContain('run cli-taken is running already');

      await handle.signal(resumeSignal);
      await handle.result();
      const closed = await cli(['start', '--config', file]);
      expect(closed.code).toBe(1);
      expect(closed.stderr).toBe(
        'isheep: a run named cli-taken exists already (COMPLETED). To continue from what it left in runs/cli-taken/, start again with --resume; ' +
          'to start over under that name, `isheep rm cli-taken` first, then start with --resume; or choose another --name\n',
      );

      const first = (await handle.describe()).runId;
      const resumed = await cli(['start', '--config', file, '--resume']);
      expect(resumed).toMatchObject({ code: 0, stdout: 'started cli-taken\n' });
      const second = env.client.workflow.getHandle('cli-taken');
      expect((await second.describe()).runId).not.toBe(first);
      await second.result();
    });
  });

  describe('rm', () => {
    it('refuses a running run, removes a closed run\'s folder, and names what is not there', async () => {
      const handle = await startSmall('cli-rm');
      await handle.signal(pauseSignal);
      await waitUntil(async () => store.exists('runs/cli-rm'));

      const refused = await cli(['rm', 'cli-rm']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        'isheep: run cli-rm is running: `isheep stop cli-rm` ends it after its current iteration; remove its folder once it has closed\n',
      );
      expect(store.exists('runs/cli-rm')).toBe(true);

      await handle.signal(resumeSignal);
      await handle.result();
      const removed = await cli(['rm', 'cli-rm']);
      expect(removed).toMatchObject({ code: 0, stdout: `removed ${join(store.root, 'runs', 'cli-rm')}\n` });
      expect(store.exists('runs/cli-rm')).toBe(false);

      const gone = await cli(['rm', 'cli-rm']);
      expect(gone).toMatchObject({ code: 1, stderr: `isheep: no folder runs/cli-rm in the store at ${store.root}\n` });
    });

    it('takes only run names: nothing outside the store', async () => {
      mkdirSync(join(store.root, 'runs'), { recursive: true });
      for (const name of ['../..', 'runs/../..', '/etc', 'Bad Name']) {
        const r = await cli(['rm', name]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^isheep: ${JSON.stringify(name).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a run name: lower-case letters`));
      }
      expect(existsSync(store.root)).toBe(true);
      expect(existsSync(join(store.root, 'runs'))).toBe(true);
    });
  });

  it('reads the namespace from TEMPORAL_NAMESPACE', async () => {
    await startSmall('cli-namespace').then((h) => h.terminate('only its name matters'));
    expect((await cli(['status', 'cli-namespace'])).stdout).toContain('run cli-namespace TERMINATED');
    const elsewhere = await cli(['status', 'cli-namespace'], { TEMPORAL_NAMESPACE: 'isheep-other-namespace' });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain("'isheep-other-namespace'"); // not found there: the CLI asked that namespace
  });
});

describe('connection settings: the standard Temporal client environment', () => {
  const noFile = { TEMPORAL_CONFIG_FILE: join(tmpdir(), 'isheep-no-such-temporal.toml') };

  it('address, namespace and API key from TEMPORAL_*', () => {
    const t = temporalTarget({ ...noFile, TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_NAMESPACE: 'team-a', TEMPORAL_API_KEY: 'k-123' });
    expect(t.namespace).toBe('team-a');
    expect(t.connectionOptions.address).toBe('temporal.example.com:7233');
    expect(t.connectionOptions.apiKey).toBe('k-123');
    expect(t.connectionOptions.tls).toBe(true); // an API key implies TLS
  });

  it('defaults: the local dev server, namespace default, plain gRPC', () => {
    const t = temporalTarget({ ...noFile });
    expect(t).toEqual({ connectionOptions: { address: '127.0.0.1:7233' }, namespace: 'default' });
  });

  it('mTLS from TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH / TEMPORAL_TLS_SERVER_CA_CERT_PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isheep-tls-'));
    for (const f of ['crt', 'key', 'ca']) writeFileSync(join(dir, f), `pem ${f}`);
    const t = temporalTarget({
      ...noFile,
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'crt'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca'),
    });
    const tls = t.connectionOptions.tls as { clientCertPair: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate: Uint8Array };
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(text(tls.clientCertPair.crt)).toBe('pem crt');
    expect(text(tls.clientCertPair.key)).toBe('pem key');
    expect(text(tls.serverRootCACertificate)).toBe('pem ca');
  });

  it('warns of the TLS variables of earlier versions, which nothing reads now', () => {
    expect(retiredVariablesWarning({ TEMPORAL_ADDRESS: 'x:1' })).toBeNull();
    expect(retiredVariablesWarning({ TEMPORAL_TLS_CERT: '/c', TEMPORAL_TLS_KEY: '/k' })).toBe(
      'TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY are no longer read; use TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH',
    );
  });

  it('a profile of the config file (TEMPORAL_PROFILE), under the environment', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'isheep-profile-')), 'temporal.toml');
    writeFileSync(file, '[profile.cluster]\naddress = "cluster.internal:7233"\nnamespace = "isheep-prod"\n');
    const fromProfile = temporalTarget({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cluster' });
    expect(fromProfile).toMatchObject({ connectionOptions: { address: 'cluster.internal:7233' }, namespace: 'isheep-prod' });
    const overridden = temporalTarget({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cluster', TEMPORAL_NAMESPACE: 'isheep-dev' });
    expect(overridden.namespace).toBe('isheep-dev');
  });
});

describe('heartbeat details in status lines', () => {
  /** A codec that hides the JSON: the whole payload, bytes reversed, under an encoding of its own. */
  const text = (b?: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array());
  const bytes = (t: string) => new TextEncoder().encode(t);
  const reversing: PayloadCodec = {
    async encode(payloads: Payload[]) {
      return payloads.map((p) => ({
        metadata: { encoding: bytes('binary/reversed') },
        data: bytes(JSON.stringify({ encoding: text(p.metadata?.encoding), data: Buffer.from(p.data ?? []).toString('base64') })).reverse(),
      }));
    },
    async decode(payloads: Payload[]) {
      return payloads.map((p) => {
        const inner = JSON.parse(text(Uint8Array.from(p.data ?? []).reverse())) as { encoding: string; data: string };
        return { metadata: { encoding: bytes(inner.encoding) }, data: Uint8Array.from(Buffer.from(inner.data, 'base64')) };
      });
    },
  };
  const converter = (codecs: PayloadCodec[]): LoadedDataConverter => ({
    payloadConverter: defaultPayloadConverter,
    failureConverter: defaultFailureConverter,
    payloadCodecs: codecs,
  });
  const heartbeat = async (codecs: PayloadCodec[], details: unknown) => {
    let payloads = [defaultPayloadConverter.toPayload(details)];
    for (const codec of codecs) payloads = await codec.encode(payloads);
    return { activityType: { name: 'generate' }, heartbeatDetails: { payloads } };
  };

  it('decodes them with the client\'s codecs and payload converter', async () => {
    for (const codecs of [[], [reversing]]) {
      const c = converter(codecs);
      expect(await describeActivity(c, await heartbeat(codecs, { job: 'generate', stage: 'generating', done: 3, total: 8 }))).toBe('generate 3/8');
      expect(await describeActivity(c, await heartbeat(codecs, { job: 'train', stage: 'training', step: 5, totalSteps: 20, loss: 1.23456 }))).toBe(
        'generate step 5/20 loss 1.235',
      );
    }
  });

  it('says a job waits for a worker, how long a running one has run, and when it should end', async () => {
    const c = converter([]);
    const now = 1_000_000;
    const at = (s: number) => ({ seconds: now - s, nanos: 0 });
    expect(await describeActivity(c, { activityType: { name: 'generate' }, state: 1, scheduledTime: at(95) } as never, now)).toBe('generate (waiting for a worker 1m35s)');
    const running = { ...(await heartbeat([], { job: 'generate', stage: 'generating', done: 4, total: 16 })), state: 2, lastStartedTime: at(120), attempt: 2 };
    expect(await describeActivity(c, running as never, now)).toBe('generate 4/16, 2m00s, ~6m00s left, attempt 2');
    const loading = { ...(await heartbeat([], { job: 'generate', stage: 'loading' })), state: 2, lastStartedTime: at(8) };
    expect(await describeActivity(c, loading as never, now)).toBe('generate (loading, 8s)');
  });

  it('draws each count of the progress line as a bar on a terminal', () => {
    expect(renderBars('iteration 1/2 · responding · shards 2/4 · generate 12/32, 1m05s, ~1m40s left', 10)).toEqual([
      'iteration [#####.....] 1/2',
      '  responding',
      '  shards    [#####.....] 2/4',
      '  generate  [####......] 12/32, 1m05s, ~1m40s left',
    ]);
    expect(renderBars('baseline · generate (waiting for a worker 5s)')).toEqual(['baseline', '  generate (waiting for a worker 5s)']);
  });

  it('shows the activity\'s name alone when there are no details, or details it cannot read', async () => {
    expect(await describeActivity(converter([]), { activityType: { name: 'train' } })).toBe('train');
    const garbled = { activityType: { name: 'train' }, heartbeatDetails: { payloads: [{ metadata: { encoding: new TextEncoder().encode('binary/unknown') }, data: new Uint8Array([1, 2]) }] } };
    expect(await describeActivity(converter([]), garbled)).toBe('train');
  });
});

describe('isheep dev: Ctrl-C always stops the server it started', () => {
  const tools = (() => {
    try {
      return loadTools();
    } catch {
      return null;
    }
  })();
  const cliPath = process.env.TEMPORAL_CLI_PATH ?? tools?.temporalCli ?? null;

  const freePort = () =>
    new Promise<number>((done) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => done(port));
      });
    });
  const portOpen = (port: number) =>
    new Promise<boolean>((done) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
  /** Processes whose command line names the state dir: the dev server we started there, if it is left. */
  const processesOf = (stateDir: string) =>
    execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(stateDir))
      .map((line) => Number(line.trim().split(/\s+/)[0]));

  /** `isheep dev` on free ports, through tsx's CLI as people run it, or as one node process (`direct`). */
  async function startDev(
    direct = false,
  ): Promise<{ child: ChildProcess; port: number; stateDir: string; exited: Promise<number | null>; output: () => string }> {
    const stateDir = mkdtempSync(join(tmpdir(), 'isheep-dev-state-'));
    const port = await freePort();
    const uiPort = await freePort();
    const args = [MAIN, 'dev', '--gpus', 'none', '--port', String(port), '--ui-port', String(uiPort)];
    const child = spawn(direct ? process.execPath : TSX, direct ? ['--import', 'tsx', ...args] : args, {
      cwd: ROOT,
      env: cliEnv({
        TEMPORAL_ADDRESS: undefined,
        TEMPORAL_CLI_PATH: cliPath!,
        ISHEEP_STATE_DIR: stateDir,
        ISHEEP_STORE: mkdtempSync(join(tmpdir(), 'isheep-dev-store-')),
        ISHEEP_PYTHON: tools?.python ?? 'python3', // never run: no job reaches these workers
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`isheep dev exited early:\n${out}`);
      return out.includes('workers running');
    }, 180_000);
    expect(await portOpen(port)).toBe(true);
    expect(processesOf(stateDir).length).toBeGreaterThan(0);
    return { child, port, stateDir, exited, output: () => out };
  }

  async function expectServerGone(port: number, stateDir: string) {
    const left = processesOf(stateDir);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // ours, started by this test: leave nothing behind
    expect(left).toEqual([]);
    expect(await portOpen(port)).toBe(false);
  }

  it.skipIf(!cliPath)('one Ctrl-C: workers shut down, then the server; exit 0', async () => {
    const dev = await startDev();
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(0);
    await expectServerGone(dev.port, dev.stateDir);
  });

  it.skipIf(!cliPath)('two Ctrl-C in quick succession: the server is stopped at once; exit 130', async () => {
    const dev = await startDev();
    dev.child.kill('SIGINT');
    await sleep(400); // a second keypress, not tsx's echo of the first
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(130);
    await expectServerGone(dev.port, dev.stateDir);
    expect(dev.output()).toContain('isheep: stopping at once');
  });

  it.skipIf(!cliPath)('node killed outright (kill -9, OOM): the server stops all the same', async () => {
    const dev = await startDev(true);
    dev.child.kill('SIGKILL');
    await dev.exited;
    await waitUntil(async () => processesOf(dev.stateDir).length === 0, 30_000).catch(() => {});
    await expectServerGone(dev.port, dev.stateDir);
  });
});
