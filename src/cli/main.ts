/**
 * isheep — the command line.
 *   isheep demo                  a whole run on the demo model: dev server, workers, live progress, table
 *   isheep dev                   the dev server and this host's workers, to start runs from the Web UI
 *   isheep worker                this host's workers against TEMPORAL_ADDRESS
 *   isheep start --preset demo   start a run (--config file.json, --set key=value)
 *   isheep status NAME           where a run is
 *   isheep report NAME           wait for a run and print its table
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { Store } from '../artifacts/store.js';
import { parseConfig } from '../config/schema.js';
import { presets, withPreset, type PresetName } from '../config/presets.js';
import { SubprocessEngine } from '../engine/runner.js';
import { engineCommand, loadTools, PROJECT_ROOT } from '../setup/tools.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { startRun } from '../temporal/start-run.js';
import { WorkerLogger } from '../worker/logger.js';
import { createHostWorkers, planSlots, runWorkers } from '../worker/workers.js';
import type { IterationCard, RunResult } from '../workflows/types.js';
import { renderCard } from './card.js';
import { renderTable } from '../workflows/report.js';
import { describeProgress } from './live.js';
import { pauseSignal, resumeSignal, setIterationsUpdate, stopAfterIterationSignal } from '../workflows/messages.js';

const NAMESPACE = process.env.TEMPORAL_NAMESPACE ?? 'default';

function storeRoot(): string {
  return resolve(process.env.ISHEEP_STORE ?? join(PROJECT_ROOT, '.isheep', 'store'));
}

async function server(): Promise<DevServer> {
  if (process.env.TEMPORAL_ADDRESS) {
    return { address: process.env.TEMPORAL_ADDRESS, uiUrl: null, process: null, stop: async () => {} };
  }
  const cli = loadTools().temporalCli;
  if (!cli) throw new Error('no Temporal CLI: run `npm run setup`, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS');
  return startDevServer({ cli, stateDir: join(PROJECT_ROOT, '.isheep', 'temporal') });
}

interface WorkerFlags {
  gpus?: string;
  slotSize?: string;
  roles?: string;
}

/** TLS and API key for a real cluster (Temporal Cloud or a self-hosted one with mTLS), from the environment. */
function connectionOptions(address: string) {
  const { TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_API_KEY, TEMPORAL_TLS } = process.env;
  const tls =
    TEMPORAL_TLS_CERT && TEMPORAL_TLS_KEY
      ? {
          clientCertPair: { crt: readFileSync(TEMPORAL_TLS_CERT), key: readFileSync(TEMPORAL_TLS_KEY) },
          ...(TEMPORAL_TLS_CA ? { serverRootCACertificate: readFileSync(TEMPORAL_TLS_CA) } : {}),
        }
      : TEMPORAL_TLS === '1' || TEMPORAL_API_KEY
        ? true
        : undefined;
  return { address, ...(tls ? { tls } : {}), ...(TEMPORAL_API_KEY ? { apiKey: TEMPORAL_API_KEY } : {}) };
}

async function startWorkers(address: string, signal: AbortSignal, flags: WorkerFlags = {}) {
  const tools = loadTools();
  const { command, env } = engineCommand(tools);
  const connection = await NativeConnection.connect(connectionOptions(address));
  const roles = flags.roles ? new Set(flags.roles.split(',')) : null;
  for (const role of roles ?? []) {
    if (!['workflows', 'data', 'models'].includes(role)) throw new Error(`--roles takes workflows,data,models; got ${role}`);
  }
  const slots = planSlots(flags.gpus ?? 'all', Number(flags.slotSize ?? 1));
  const workers = await createHostWorkers({
    connection,
    connectSlot: () => NativeConnection.connect(connectionOptions(address)),
    namespace: NAMESPACE,
    store: new Store(storeRoot()),
    engine: new SubprocessEngine({ command, env }),
    slots,
    ...(roles ? { roles: { workflows: roles.has('workflows'), data: roles.has('data'), models: roles.has('models') } } : {}),
  });
  console.log(`model slots: ${slots.map((s) => (s.devices === null ? 'cpu' : `gpu ${s.devices}`)).join(' | ')}`);
  const running = runWorkers(workers, signal);
  return { running };
}

function buildConfig(opts: { preset?: string; config?: string; set?: string[]; name?: string }): Record<string, unknown> {
  const fromFile = opts.config ? (JSON.parse(readFileSync(opts.config, 'utf8')) as Record<string, unknown>) : {};
  for (const assignment of opts.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq < 1) throw new Error(`--set expects key.path=value, got ${assignment}`);
    setPath(fromFile, assignment.slice(0, eq), parseValue(assignment.slice(eq + 1)));
  }
  if (opts.name) fromFile.name = opts.name;
  const preset = (opts.preset ?? 'demo') as PresetName;
  if (!(preset in presets)) throw new Error(`unknown preset ${preset}; choose one of ${Object.keys(presets).join(', ')}`);
  const merged = withPreset(preset, fromFile);
  parseConfig(merged); // fail here, before starting anything, with the same message the workflow would give
  return merged;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function timestampName(prefix: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${prefix}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

async function followRun(client: Client, name: string, stopped?: AbortSignal): Promise<RunResult> {
  const handle = client.workflow.getHandle(name);
  const started = Date.now();
  let last = '';
  stopped?.addEventListener('abort', () => clearInterval(timer), { once: true });
  const timer = setInterval(() => {
    describeProgress(client, name)
      .then((line) => {
        if (line !== last) {
          last = line;
          const s = Math.round((Date.now() - started) / 1000);
          console.log(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`);
        }
      })
      .catch(() => {});
  }, 2000);
  try {
    return (await handle.result()) as RunResult;
  } finally {
    clearInterval(timer);
  }
}

function printResult(result: RunResult, started: number, uiUrl: string | null) {
  console.log(`\nI-SHEEP run ${result.name} finished in ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
  const reportFile = join(storeRoot(), `${result.report}.json`);
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { cards: IterationCard[] };
    for (const card of report.cards) console.log(`${renderCard(card)}\n`);
  }
  console.log(renderTable(result.baseline, result.summaries));
  console.log(`\nartifacts:   ${join(storeRoot(), result.store)}`);
  console.log(`report:      ${join(storeRoot(), `${result.report}.md`)}`);
  console.log(`final model: ${join(storeRoot(), result.finalModel.uri)}`);
  if (uiUrl) console.log(`Web UI:      ${uiUrl}/namespaces/${NAMESPACE}/workflows/${result.name}`);
}

// Workers log warnings and errors only; the CLI prints the progress people need.
Runtime.install({ logger: new WorkerLogger((process.env.ISHEEP_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });

const program = new Command('isheep').description('I-SHEEP self-alignment runs on Temporal');

program
  .command('demo')
  .description('run I-SHEEP end to end on the demo model: dev server, workers, live progress, table')
  .option('--name <name>', 'run name (default demo-<timestamp>)')
  .option('--set <key=value...>', 'override a config field, e.g. --set iterations=1')
  .action(async (opts: { name?: string; set?: string[] }) => {
    const started = Date.now();
    const config = buildConfig({ preset: 'demo', set: opts.set, name: opts.name ?? timestampName('demo') });
    const srv = await server();
    const abort = new AbortController();
    const { running } = await startWorkers(srv.address, abort.signal);
    const client = new Client({ connection: await Connection.connect({ address: srv.address }), namespace: NAMESPACE });
    console.log(`Temporal at ${srv.address}${srv.uiUrl ? ` · Web UI ${srv.uiUrl}` : ''} · run ${config.name as string}`);
    // Ctrl-C stops the workers and the server; the run itself is kept (SQLite) and goes on under `isheep dev`.
    let wasInterrupted = false;
    const interrupted = new Promise<never>((_, reject) => {
      const stop = () => {
        wasInterrupted = true;
        reject(new Error(`interrupted: run ${config.name as string} is kept and continues under \`isheep dev\``));
      };
      // `on`, not `once`: a terminal's Ctrl-C reaches us twice (directly and relayed by tsx).
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    try {
      await startRun(client, NAMESPACE, config as { name: string });
      const following = followRun(client, config.name as string, abort.signal);
      following.catch(() => {});
      const result = await Promise.race([following, interrupted]);
      printResult(result, started, srv.uiUrl);
    } finally {
      abort.abort();
      await running.catch(() => {});
      await srv.stop();
      if (wasInterrupted) {
        // The client's long poll for the result would retry against the stopped server: leave now.
        console.error(`isheep: interrupted; run ${config.name as string} is kept and continues under \`isheep dev\``);
        process.exit(130);
      }
      await client.connection.close();
    }
  });

program
  .command('dev')
  .description('start the dev server and this host\'s workers; launch runs from the Web UI or `isheep start`')
  .option('--gpus <list>', 'all, none, or GPU indices like 0,1,2,3', 'all')
  .option('--slot-size <k>', 'GPUs per model slot', '1')
  .action(async (flags: WorkerFlags) => {
    const srv = await server();
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const { running } = await startWorkers(srv.address, abort.signal, flags);
    console.log(`Temporal at ${srv.address}${srv.uiUrl ? ` · Web UI ${srv.uiUrl}` : ''}; workers running (Ctrl-C stops)`);
    await running;
    await srv.stop();
  });

program
  .command('worker')
  .description('run this host\'s workers against TEMPORAL_ADDRESS (default 127.0.0.1:7233); TLS from TEMPORAL_TLS_CERT/KEY/CA, TEMPORAL_API_KEY')
  .option('--gpus <list>', 'all, none, or GPU indices like 0,1,2,3', 'all')
  .option('--slot-size <k>', 'GPUs per model slot (tensor parallel / multi-GPU training)', '1')
  .option('--roles <list>', 'which workers to run: workflows,data,models (default all)')
  .action(async (flags: WorkerFlags) => {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const { running } = await startWorkers(process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', abort.signal, flags);
    console.log('workers running (Ctrl-C stops)');
    await running;
  });

async function connectClient(): Promise<Client> {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  return new Client({ connection: await Connection.connect(connectionOptions(address)), namespace: NAMESPACE });
}

async function withClient(fn: (client: Client) => Promise<unknown>) {
  const client = await connectClient();
  try {
    await fn(client);
  } finally {
    await client.connection.close();
  }
}

program
  .command('pause <name>')
  .description('finish the model jobs in flight and start no new one until resumed')
  .action((name: string) => withClient((c) => c.workflow.getHandle(name).signal(pauseSignal)).then(() => console.log(`paused ${name}`)));

program
  .command('resume <name>')
  .description('resume a paused run')
  .action((name: string) => withClient((c) => c.workflow.getHandle(name).signal(resumeSignal)).then(() => console.log(`resumed ${name}`)));

program
  .command('stop <name>')
  .description('finish the current iteration, then report and end the run')
  .action((name: string) =>
    withClient((c) => c.workflow.getHandle(name).signal(stopAfterIterationSignal)).then(() => console.log(`${name} stops after its current iteration`)),
  );

program
  .command('set-iterations <name> <n>')
  .description('change how many iterations a running run makes in all')
  .action((name: string, n: string) =>
    withClient(async (c) => {
      const total = await c.workflow.getHandle(name).executeUpdate(setIterationsUpdate, { args: [Number(n)] });
      console.log(`${name} now runs ${total} iterations`);
    }),
  );

program
  .command('start')
  .description('start a run')
  .option('--preset <name>', `one of ${Object.keys(presets).join(', ')}`, 'demo')
  .option('--config <file>', 'a JSON config file (fields override the preset)')
  .option('--set <key=value...>', 'override a config field')
  .option('--name <name>', 'run name (default <preset>-<timestamp>)')
  .action(async (opts: { preset: string; config?: string; set?: string[]; name?: string }) => {
    const config = buildConfig({ ...opts, name: opts.name ?? timestampName(opts.preset) });
    await withClient((client) => startRun(client, NAMESPACE, config as { name: string }));
    console.log(`started ${config.name as string}`);
  });

program
  .command('status <name>')
  .description('where a run is')
  .action(async (name: string) => {
    await withClient(async (client) => console.log(await describeProgress(client, name)));
  });

program
  .command('report <name>')
  .description('wait for a run to finish and print its table')
  .action(async (name: string) => {
    const started = Date.now();
    await withClient(async (client) => printResult(await followRun(client, name), started, null));
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`isheep: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
