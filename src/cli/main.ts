/**
 * isheep — the command line.
 *   isheep demo                  a whole run on the demo model: dev server, workers, live progress, table
 *   isheep dev                   the dev server and this host's workers, to start runs from the Web UI
 *   isheep worker                this host's workers against the configured Temporal server
 *   isheep start --preset demo   start a run (--config file.json, --set key=value, --name, --resume)
 *   isheep status NAME           where a run is, or how and why it ended
 *   isheep report NAME           wait for a run and print its table (--html: the path of its HTML report)
 *   isheep rm NAME               remove a closed run's folder from the store
 *   isheep export NAME --format F  an iteration's kept pairs as a dataset folder (alpaca | messages | sharegpt)
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Command, Option } from 'commander';
import { Store } from '../artifacts/store.js';
import { configSchema, parseConfig } from '../config/schema.js';
import { presets, withPreset, type PresetName } from '../config/presets.js';
import { SubprocessEngine } from '../engine/runner.js';
import { engineCommand, loadTools, PROJECT_ROOT } from '../setup/tools.js';
import { localTarget, retiredVariablesWarning, temporalTarget, type TemporalTarget } from '../temporal/connection.js';
import { startDevServer } from '../temporal/dev-server.js';
import { RunExistsError, startRun } from '../temporal/start-run.js';
import { installRuntime } from '../worker/telemetry.js';
import { createHostWorkers, planSlots, runWorkers } from '../worker/workers.js';
import type { IterationCard, RunResult } from '../workflows/types.js';
import { renderCard } from './card.js';
import { EXPORT_FORMATS, exportIteration, type ExportFormat } from './export.js';
import type { RunReportDocument } from '../report/document.js';
import { writeHtmlFromJson } from '../report/write.js';
import { renderTable } from '../workflows/report.js';
import { INTERRUPTED_EXIT, Interrupts } from './interrupts.js';
import { describeProgress, renderBars } from './live.js';
import { pauseOtherRuns } from './other-runs.js';
import { listRuns, renderRunList } from './list.js';
import { closedLine, CliError, minutesBetween, noRunNamed, readRunState } from './run-state.js';
import { pauseSignal, resumeSignal, setIterationsUpdate, stopAfterIterationSignal } from '../workflows/messages.js';

/** The artifact store these commands read (`report`, `rm`): the workers' ISHEEP_STORE when they share a host. */
function storeRoot(): string {
  return resolve(process.env.ISHEEP_STORE ?? join(PROJECT_ROOT, '.isheep', 'store'));
}

/** Where the dev server keeps its SQLite state and log. */
function devStateDir(): string {
  return resolve(process.env.ISHEEP_STATE_DIR ?? join(PROJECT_ROOT, '.isheep', 'temporal'));
}

interface HostTemporal {
  target: TemporalTarget;
  uiUrl: string | null;
  /** Stops the dev server we started (nothing when we use someone else's). */
  stop(graceMs?: number): Promise<void>;
}

/** How long a second Ctrl-C gives the dev server between SIGTERM and SIGKILL. */
const FORCED_STOP_GRACE_MS = 2_000;

/**
 * The server for `demo` and `dev`: the one TEMPORAL_ADDRESS names (with the rest of the standard client
 * settings), else a local dev server we start, which a second Ctrl-C stops at once, even during its start-up.
 */
async function hostTemporal(interrupts: Interrupts, ports: { port?: number; uiPort?: number } = {}): Promise<HostTemporal> {
  if (process.env.TEMPORAL_ADDRESS) return { target: temporalTarget(), uiUrl: null, stop: async () => {} };
  const cli = loadTools().temporalCli;
  if (!cli) throw new Error('no Temporal CLI: run `npm run setup`, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS');
  const srv = await startDevServer({
    cli,
    stateDir: devStateDir(),
    ...ports,
    onSpawned: (spawned) => interrupts.onForce(() => spawned.stop(FORCED_STOP_GRACE_MS)),
  });
  return { target: localTarget(srv.address), uiUrl: srv.uiUrl, stop: (graceMs) => srv.stop(graceMs) };
}

interface WorkerFlags {
  gpus?: string;
  slotSize?: string;
  roles?: string;
}

async function startWorkers(target: TemporalTarget, signal: AbortSignal, flags: WorkerFlags = {}) {
  const tools = loadTools();
  const { command, env } = engineCommand(tools);
  const roles = flags.roles ? new Set(flags.roles.split(',')) : null;
  for (const role of roles ?? []) {
    if (!['workflows', 'data', 'models'].includes(role)) throw new Error(`--roles takes workflows,data,models; got ${role}`);
  }
  const slots = planSlots(flags.gpus ?? 'all', Number(flags.slotSize ?? 1));
  const connection = await NativeConnection.connect(target.connectionOptions);
  // The data worker asks the cluster whether isheep's search attributes are registered (for runs started from the UI).
  const client = new Client({ connection: await Connection.connect(target.connectionOptions), namespace: target.namespace });
  const workers = await createHostWorkers({
    connection,
    connectSlot: () => NativeConnection.connect(target.connectionOptions),
    client,
    namespace: target.namespace,
    store: new Store(storeRoot()),
    engine: new SubprocessEngine({ command, env }),
    slots,
    ...(roles ? { roles: { workflows: roles.has('workflows'), data: roles.has('data'), models: roles.has('models') } } : {}),
  });
  console.log(`model slots: ${slots.map((s) => (s.devices === null ? 'cpu' : `gpu ${s.devices}`)).join(' | ')}`);
  // runWorkers listens for the abort; a Ctrl-C that came while the workers were being created is passed on here.
  const stopping = new AbortController();
  const running = runWorkers(workers, stopping.signal).finally(() => client.connection.close());
  if (signal.aborted) stopping.abort();
  else signal.addEventListener('abort', () => stopping.abort(), { once: true });
  return { running };
}

interface ConfigFlags {
  preset?: string;
  config?: string;
  set?: string[];
  name?: string;
  resume?: boolean;
}

/**
 * The config a command starts: the preset, under the file, under each --set, with the run name from --name,
 * else --set name=…, else the file's name, else "<preset>-<timestamp>".
 */
function buildConfig(opts: ConfigFlags): { name: string } & Record<string, unknown> {
  const fromFile = opts.config ? readConfigFile(opts.config) : {};
  // --preset, else the file's "preset" (as the Web UI's input takes it), else demo.
  const preset = (opts.preset ?? fromFile.preset ?? 'demo') as PresetName;
  delete fromFile.preset;
  if (typeof preset !== 'string' || !(preset in presets)) throw new Error(`unknown preset ${JSON.stringify(preset)}; choose one of ${Object.keys(presets).join(', ')}`);
  for (const assignment of opts.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq < 1) throw new Error(`--set expects key.path=value, got ${assignment}`);
    const path = assignment.slice(0, eq);
    const text = assignment.slice(eq + 1);
    if (path.split('.').some((key) => key === '' || FORBIDDEN_KEYS.has(key))) throw new Error(`--set: ${path} is not a config field`);
    setPath(fromFile, path, path === 'name' ? text : parseValue(text)); // a name is text even when it looks like a number
  }
  if (opts.name) fromFile.name = opts.name;
  fromFile.name ??= timestampName(preset);
  if (opts.resume) fromFile.resume = true;
  const merged = withPreset(preset, fromFile);
  parseConfig(merged); // fail here, before starting anything, with the same message the workflow would give
  return merged as { name: string } & Record<string, unknown>;
}

/** Keys that would reach Object.prototype instead of the config. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--config ${file}: ${err instanceof SyntaxError ? `not valid JSON (${err.message})` : (err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`--config ${file}: expected a JSON object`);
  return parsed as Record<string, unknown>;
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

/** What to do about a name that is taken, for people. */
function runExistsMessage(err: RunExistsError): string {
  const name = err.runName;
  if (err.status === 'RUNNING') {
    return `run ${name} is running already: \`isheep status ${name}\` shows where it is, \`isheep stop ${name}\` ends it after its current iteration`;
  }
  return (
    `a run named ${name} exists already${err.status ? ` (${err.status})` : ''}. ` +
    `To continue from what it left in runs/${name}/, start again with --resume; ` +
    `to start over under that name, \`isheep rm ${name}\` first, then start with --resume; or choose another --name`
  );
}

async function startNamedRun(client: Client, config: { name: string } & Record<string, unknown>) {
  try {
    return await startRun(client, client.options.namespace, config);
  } catch (err) {
    if (err instanceof RunExistsError) throw new CliError(runExistsMessage(err));
    throw err;
  }
}

/** Prints the live progress line whenever it changes until the run closes; returns its result. */
async function followRun(client: Client, name: string, since: Date, stopped?: AbortSignal): Promise<RunResult> {
  const handle = client.workflow.getHandle(name);
  // On a terminal: a block of progress bars redrawn in place. Otherwise a line when what the run does changes, and
  // every 30 s while only its times move (so it never looks hung).
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let last = '';
  let lastAt = 0;
  stopped?.addEventListener('abort', () => clearInterval(timer), { once: true });
  const timer = setInterval(() => {
    describeProgress(client, name)
      .then((line) => {
        if (tty) {
          const s = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
          const block = renderBars(`${line} · run time ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`, 30);
          process.stdout.write(`${drawn ? `\x1b[${drawn}F\x1b[J` : ''}${block.join('\n')}\n`);
          drawn = block.length;
          return;
        }
        const what = line.replace(/\d+h\d\dm|\d+m\d\ds|\d+s/g, '');
        if (what !== last || Date.now() - lastAt >= 30_000) {
          last = what;
          lastAt = Date.now();
          const s = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
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

/**
 * Waits for a run and prints its table, with the run's own duration (start to close on the server). A run that
 * failed, was terminated, cancelled or timed out says so, with why, and the command fails.
 */
async function reportRun(client: Client, name: string, uiUrl: string | null, stopped?: AbortSignal): Promise<void> {
  let state = await readRunState(client, name);
  if (!state.closed) {
    try {
      await followRun(client, name, state.startTime, stopped);
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
    }
    state = await readRunState(client, name);
  }
  if (!state.closed) throw new CliError(`run ${name} is still running`);
  if (state.status !== 'COMPLETED') throw new CliError(closedLine(state));
  const result = (await client.workflow.getHandle(name).result()) as RunResult;
  printResult(result, minutesBetween(state.startTime, state.closeTime), uiUrl, client.options.namespace);
}

function printResult(result: RunResult, minutes: string, uiUrl: string | null, namespace: string) {
  console.log(`\nI-SHEEP run ${result.name} finished in ${minutes} min\n`);
  const reportFile = join(storeRoot(), `${result.report}.json`);
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { cards: IterationCard[] };
    for (const card of report.cards) console.log(`${renderCard(card)}\n`);
  }
  console.log(renderTable(result.baseline, result.summaries, { baselineSuites: result.baselineSuites, best: result.best, stoppedEarly: result.stoppedEarly }));
  console.log(`\nartifacts:   ${join(storeRoot(), result.store)}`);
  console.log(`report:      ${join(storeRoot(), `${result.report}.md`)}`);
  if (existsSync(join(storeRoot(), `${result.report}.html`))) console.log(`             ${join(storeRoot(), `${result.report}.html`)}`);
  console.log(`final model: ${join(storeRoot(), result.finalModel.uri)}${result.best ? ` (best by ${result.best.metric})` : ''}`);
  if (uiUrl) console.log(`Web UI:      ${uiUrl}/namespaces/${namespace}/workflows/${result.name}`);
}

/**
 * `report NAME --html`: the path of runs/NAME/report.html in the store. A run that ended before HTML reports has
 * only report.json: its page is rendered from that now, with sample pairs from the run's folder.
 */
async function printHtmlReportPath(name: string): Promise<void> {
  checkRunName(name);
  const store = new Store(storeRoot());
  const run = `runs/${name}`;
  if (!store.exists(`${run}/report.html`)) {
    if (!store.exists(`${run}/report.json`)) {
      throw new CliError(`run ${name} has no report in the store at ${storeRoot()} yet: it is written when its first iteration finishes (ISHEEP_STORE names the workers' store)`);
    }
    const doc = JSON.parse(readFileSync(store.path(`${run}/report.json`), 'utf8')) as RunReportDocument;
    await writeHtmlFromJson(store, run, doc);
  }
  console.log(store.path(`${run}/report.html`));
}

/** `status`: a closed run's status and why; a running one's live progress. */
async function printStatus(client: Client, name: string): Promise<void> {
  const state = await readRunState(client, name);
  if (!state.closed) {
    console.log(await describeProgress(client, name));
    return;
  }
  console.log(closedLine(state));
  if (state.status !== 'COMPLETED') process.exitCode = 1;
}

/** The config's own rule for run names: a name is one folder under runs/, never a path. */
function checkRunName(name: string): void {
  const valid = configSchema.shape.name.safeParse(name);
  if (!valid.success) throw new CliError(`${JSON.stringify(name)} is not a run name: ${valid.error.issues.map((i) => i.message).join('; ')}`);
}

/** `rm`: a closed run's folder out of the store; never a running run's, never a path outside the store. */
async function removeRunFolder(client: Client, name: string): Promise<void> {
  checkRunName(name);
  const store = new Store(storeRoot());
  const uri = `runs/${name}`;
  const folder = store.path(uri); // refuses a uri outside the store, should the name rule ever loosen
  const running = await client.workflow
    .getHandle(name)
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    });
  if (running) {
    throw new CliError(`run ${name} is running: \`isheep stop ${name}\` ends it after its current iteration; remove its folder once it has closed`);
  }
  if (!existsSync(folder)) throw new CliError(`no folder ${uri} in the store at ${store.root}`);
  rmSync(folder, { recursive: true, force: true });
  console.log(`removed ${folder}`);
}

const program = new Command('isheep').description('I-SHEEP self-alignment runs on Temporal');

// The Runtime, before any command connects: workers log warnings and errors only (the CLI prints the progress
// people need), and the commands that run workers serve Prometheus metrics with --metrics-port.
program.hook('preAction', (_program, command) => {
  const { metricsPort, metricsHost } = command.opts<{ metricsPort?: number; metricsHost?: string }>();
  installRuntime({
    logLevel: (process.env.ISHEEP_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN',
    metrics: metricsPort === undefined ? null : { port: metricsPort, ...(metricsHost ? { host: metricsHost } : {}) },
  });
  if (metricsPort !== undefined) {
    const host = !metricsHost || metricsHost === '0.0.0.0' || metricsHost === '::' ? 'localhost' : metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost;
    console.log(`Prometheus metrics at http://${host}:${metricsPort}/metrics`);
  }
});

const retired = retiredVariablesWarning();
if (retired) console.error(`isheep: warning: ${retired}`);

const portNumber = (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error(`expected a port number, got ${text}`);
  return n;
};

/** Prometheus metrics of this process's workers (the SDK's and ours) at http://HOST:PORT/metrics; see README "Metrics". */
const metricsOptions = () => [
  new Option('--metrics-port <port>', 'serve Prometheus metrics (Temporal SDK and isheep) on this port')
    .env('ISHEEP_METRICS_PORT')
    .argParser((text) => {
      try {
        return portNumber(text);
      } catch (err) {
        throw new CliError(`--metrics-port (or ISHEEP_METRICS_PORT): ${(err as Error).message}`);
      }
    }),
  new Option('--metrics-host <address>', 'the address the metrics port listens on').env('ISHEEP_METRICS_HOST').default('0.0.0.0'),
];
const withMetrics = (command: Command) => {
  for (const option of metricsOptions()) command.addOption(option);
  return command;
};

withMetrics(program.command('demo'))
  .description('run I-SHEEP end to end on the demo model: dev server, workers, live progress, table')
  .option('--name <name>', 'run name (default demo-<timestamp>)')
  .option('--set <key=value...>', 'override a config field, e.g. --set iterations=1')
  .option('--resume', 'take over the folder of an earlier, closed run of this name and continue from what it left')
  .action(async (opts: { name?: string; set?: string[]; resume?: boolean }) => {
    const config = buildConfig({ preset: 'demo', ...opts });
    // Before the server starts: a Ctrl-C during start-up must stop it too.
    const interrupts = new Interrupts();
    const kept = `run ${config.name} is kept and continues under \`isheep dev\``;
    interrupts.onForce(async () => console.error(`isheep: interrupted; ${kept}`));
    const host = await hostTemporal(interrupts);
    // Ctrl-C stops the workers and the server; the run itself is kept (SQLite) and goes on under `isheep dev`.
    const interrupted = rejectOnAbort(interrupts.signal, `interrupted: ${kept}`);
    const finished = new AbortController();
    let running: Promise<void> = Promise.resolve();
    let client: Client | null = null;
    try {
      ({ running } = await startWorkers(host.target, AbortSignal.any([interrupts.signal, finished.signal])));
      client = new Client({ connection: await Connection.connect(host.target.connectionOptions), namespace: host.target.namespace });
      console.log(`Temporal at ${host.target.connectionOptions.address}${host.uiUrl ? ` · Web UI ${host.uiUrl}` : ''} · run ${config.name}`);
      await pauseOtherRuns(client, config.name);
      await Promise.race([startNamedRun(client, config), interrupted]);
      await Promise.race([reportRun(client, config.name, host.uiUrl, interrupts.signal), interrupted]);
    } finally {
      // Whatever happened (done, failed, Ctrl-C, a worker that would not start): workers first, then our server.
      finished.abort();
      await running.catch(() => {});
      await host.stop();
      if (interrupts.signal.aborted) {
        // The client's long poll for the result would retry against the stopped server: leave now.
        console.error(`isheep: interrupted; ${kept}`);
        process.exit(INTERRUPTED_EXIT);
      }
      await client?.connection.close();
    }
  });

withMetrics(program.command('dev'))
  .description('start the dev server and this host\'s workers; launch runs from the Web UI or `isheep start`')
  .option('--gpus <list>', 'all, none, or GPU indices like 0,1,2,3', 'all')
  .option('--slot-size <k>', 'GPUs per model slot', '1')
  .option('--port <port>', 'the dev server\'s gRPC port', portNumber, 7233)
  .option('--ui-port <port>', 'the Web UI\'s port', portNumber, 8233)
  .action(async (flags: WorkerFlags & { port: number; uiPort: number }) => {
    const interrupts = new Interrupts();
    const host = await hostTemporal(interrupts, { port: flags.port, uiPort: flags.uiPort });
    try {
      const { running } = await startWorkers(host.target, interrupts.signal, flags);
      console.log(`Temporal at ${host.target.connectionOptions.address}${host.uiUrl ? ` · Web UI ${host.uiUrl}` : ''}; workers running (Ctrl-C stops)`);
      await running;
    } finally {
      await host.stop(); // also when the workers fail to start: never leave the detached server behind
    }
  });

withMetrics(program.command('worker'))
  .description('run this host\'s workers against the server of TEMPORAL_ADDRESS / TEMPORAL_PROFILE (default 127.0.0.1:7233)')
  .option('--gpus <list>', 'all, none, or GPU indices like 0,1,2,3', 'all')
  .option('--slot-size <k>', 'GPUs per model slot (tensor parallel / multi-GPU training)', '1')
  .option('--roles <list>', 'which workers to run: workflows,data,models (default all)')
  .action(async (flags: WorkerFlags) => {
    // A second Ctrl-C leaves at once: the jobs in flight die with us (parent-death watchdog) and are retried.
    const interrupts = new Interrupts();
    const { running } = await startWorkers(temporalTarget(), interrupts.signal, flags);
    console.log('workers running (Ctrl-C stops)');
    await running;
  });

function rejectOnAbort(signal: AbortSignal, message: string): Promise<never> {
  const rejected = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(new Error(message));
    else signal.addEventListener('abort', () => reject(new Error(message)), { once: true });
  });
  rejected.catch(() => {}); // raced, never awaited alone
  return rejected;
}

async function connectClient(): Promise<Client> {
  const target = temporalTarget();
  return new Client({ connection: await Connection.connect(target.connectionOptions), namespace: target.namespace });
}

async function withClient(fn: (client: Client) => Promise<unknown>) {
  const client = await connectClient();
  try {
    await fn(client);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw noRunNamed(err.workflowId, client.options.namespace);
    throw err;
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
  .option('--preset <name>', `one of ${Object.keys(presets).join(', ')} (default: the file's "preset", else demo)`)
  .option('--config <file>', 'a JSON config file (fields override the preset)')
  .option('--set <key=value...>', 'override a config field')
  .option('--name <name>', 'run name (default: --set name=…, the file\'s name, else <preset>-<timestamp>)')
  .option('--resume', 'take over the folder of an earlier, closed run of this name and continue from what it left')
  .action(async (opts: ConfigFlags & { preset: string }) => {
    const config = buildConfig(opts);
    await withClient((client) => startNamedRun(client, config));
    console.log(`started ${config.name}`);
  });

program
  .command('list')
  .description('the runs on the server, newest first: status, stage, iteration and best score')
  .option('--limit <n>', 'at most this many', '50')
  .action((opts: { limit: string }) =>
    withClient(async (client) => {
      const store = existsSync(storeRoot()) ? new Store(storeRoot()) : null;
      console.log(renderRunList(await listRuns(client, store, Number(opts.limit))));
    }),
  );

program
  .command('status <name>')
  .description('where a run is; a closed run\'s status and why it ended (non-zero exit unless it completed)')
  .action((name: string) => withClient((client) => printStatus(client, name)));

program
  .command('report <name>')
  .description('wait for a run to finish and print its table (non-zero exit when it did not complete)')
  .option('--html', 'print the path of the run\'s HTML report at once (rewritten after every iteration; no server needed)')
  .action((name: string, opts: { html?: boolean }) => (opts.html ? printHtmlReportPath(name) : withClient((client) => reportRun(client, name, null))));

program
  .command('rm <name>')
  .description('remove a closed run\'s folder (runs/NAME) from the store at ISHEEP_STORE')
  .action((name: string) => {
    checkRunName(name); // before connecting: a bad name needs no server to be refused
    return withClient((client) => removeRunFolder(client, name));
  });

program
  .command('export <name>')
  .description('write an iteration\'s kept pairs as a dataset folder for TRL, LLaMA-Factory or datasets (from the store at ISHEEP_STORE)')
  .addOption(new Option('--format <format>', 'the rows\' format').choices(EXPORT_FORMATS).makeOptionMandatory())
  .option('--iteration <t>', 'which iteration (default: the run\'s best, else its last)')
  .option('--out <dir>', 'the folder to write; must not exist or be empty (default <name>-iter-<t>-<format>)')
  .action(async (name: string, opts: { format: ExportFormat; iteration?: string; out?: string }) => {
    checkRunName(name);
    const iteration = opts.iteration === undefined ? undefined : Number(opts.iteration);
    if (iteration !== undefined && !Number.isInteger(iteration)) throw new CliError(`--iteration expects a whole number, got ${opts.iteration}`);
    const done = await exportIteration({ store: new Store(storeRoot()), run: name, format: opts.format, ...(iteration !== undefined ? { iteration } : {}), ...(opts.out ? { out: opts.out } : {}) });
    const why = done.chosen === 'best' ? ` (its best by ${done.best!.metric})` : done.chosen === 'last' ? ' (its last)' : '';
    console.log(`exported ${done.rows} pairs of ${name} iteration ${done.iteration}${why} as ${opts.format} to ${done.dir}`);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`isheep: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
});
