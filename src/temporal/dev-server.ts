/**
 * The local Temporal server: the official CLI's dev server, with its state in a SQLite file under .isheep/
 * so a run survives a restart of the server. TEMPORAL_ADDRESS makes everything use an existing server instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { DEV_SERVER_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

/**
 * One partition per task queue. With the default four, a slot worker that runs one job at a time often waits
 * seconds for a task sitting in another partition (measured: +1.8 s per job, 45 s instead of 28 s for a
 * 66-job run on one slot — bench/scaling.ts). A production cluster with many workers per queue does not need this.
 */
export const SINGLE_PARTITION = ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'];

export interface DevServer {
  address: string;
  uiUrl: string | null;
  /** Null when we reuse a server someone else started. */
  process: ChildProcess | null;
  /** SIGTERM (the server saves its state and leaves), then SIGKILL after `graceMs` (default 10 s). */
  stop(graceMs?: number): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  stateDir: string;
  port?: number;
  /** null: no Web UI (--headless). */
  uiPort?: number | null;
  /**
   * Called as soon as the server process exists, before it serves: whoever must stop it on a second Ctrl-C
   * gets hold of it during start-up too (it runs detached, so nothing else would).
   */
  onSpawned?: (server: DevServer) => void;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort === undefined ? 8233 : opts.uiPort;
  const address = `127.0.0.1:${port}`;
  if (await portOpen(port)) {
    return { address, uiUrl: uiPort === null ? null : `http://localhost:${uiPort}`, process: null, stop: async () => {} };
  }
  mkdirSync(opts.stateDir, { recursive: true });
  const log = openSync(join(opts.stateDir, 'temporal-server.log'), 'a');
  const child = spawn(
    opts.cli,
    [
      'server', 'start-dev',
      '--db-filename', join(opts.stateDir, 'temporal.db'),
      '--port', String(port),
      ...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]),
      '--ip', '127.0.0.1',
      '--log-level', 'warn',
      ...DEV_SERVER_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', a]),
      ...SINGLE_PARTITION.flatMap((v) => ['--dynamic-config-value', v]),
    ],
    { stdio: ['ignore', log, log], detached: true },
  );
  closeSync(log); // the server has its own copy
  const watcher = watchOverServer(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      watcher?.kill();
      resolve(code);
    }),
  );
  const devServer: DevServer = {
    address,
    uiUrl: uiPort === null ? null : `http://localhost:${uiPort}`,
    process: child,
    stop: (graceMs = 10_000) => stopProcess(child, exited, graceMs),
  };
  opts.onSpawned?.(devServer);
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) {
      throw new Error(`the Temporal dev server exited with code ${child.exitCode}; see ${join(opts.stateDir, 'temporal-server.log')}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the Temporal dev server did not open port ${port} within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return devServer;
}

/**
 * The server runs detached (a terminal's Ctrl-C must not reach it before the workers are done with it), so
 * nothing stops it when this process dies without running its handlers: kill -9, the OOM killer, or tsx, which
 * SIGKILLs a child that is slow to acknowledge a relayed signal. This small watcher does: once our pid is gone
 * it sends the server SIGTERM, then SIGKILL after 10 s. It leaves by itself when the server has stopped.
 */
const WATCHER_SCRIPT = [
  'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done',
  'kill -0 "$1" 2>/dev/null && exit 0',
  'kill -TERM "$2" 2>/dev/null',
  'i=0; while kill -0 "$2" 2>/dev/null && [ $i -lt 10 ]; do sleep 1; i=$((i+1)); done',
  'kill -KILL "$2" 2>/dev/null',
].join('\n');

function watchOverServer(server: ChildProcess): ChildProcess | null {
  if (server.pid === undefined) return null;
  const watcher = spawn('/bin/sh', ['-c', WATCHER_SCRIPT, 'isheep-dev-server-watcher', String(process.pid), String(server.pid)], {
    stdio: 'ignore',
    detached: true,
  });
  watcher.on('error', () => {}); // no /bin/sh: the server just goes unwatched
  watcher.unref();
  return watcher;
}

/** Stops a process and waits for its exit; a second call with a shorter grace hastens the SIGKILL. */
async function stopProcess(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
