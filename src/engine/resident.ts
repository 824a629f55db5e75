/**
 * A model slot's resident engine: its generate jobs go to one long-lived `python -m isheep_engine serve` process
 * that keeps the models it loaded (engine/isheep_engine/serve.py and resident.py), so only the slot's first job on a
 * model pays for starting Python, importing torch and loading the weights. Every other job (train, import-model,
 * lm-eval, scoring) runs as a process of its own, as SubprocessEngine runs it.
 *
 * The guarantees of a one-job process stay:
 *   - one job at a time (jobs given at once wait their turn; a slot's worker runs one anyway);
 *   - progress events reach the caller as they come (the activity turns them into heartbeats);
 *   - cancelling kills the server's whole process group, the job's work with it; the next job starts a new server;
 *   - a server that dies (crash, OOM killer) fails the job it was in, as a one-job process would ('exited'), and is
 *     replaced at the next job; a worker that exits, or dies, takes its server along (the engine's parent watchdog);
 *   - jobs that ask for other devices (another CUDA_VISIBLE_DEVICES or other environment) get a new server;
 *   - on a slot with GPUs, a train or lm-eval job stops the server first, so that the memory of the models it
 *     kept is free for the job (on CPU they stay: the demo model's few hundred MB are cheaper kept than reloaded).
 * Outputs, locks and resuming are the job's own (generate.py), the same whether it runs in a server or alone.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { visibleGpus } from './devices.js';
import { EngineError, jobFailure, STDERR_TAIL_LINES, SubprocessEngine, writeSpec, type Engine, type EngineEvent, type EngineJob, type RunOptions, type SubprocessEngineOptions } from './runner.js';

/** Jobs a server runs. */
const SERVED: ReadonlySet<EngineJob> = new Set(['generate']);
/** Jobs that load a model of their own: on a GPU slot the server's models make room for them. */
const NEEDS_THE_DEVICE: ReadonlySet<EngineJob> = new Set(['train', 'run-lm-eval', 'import-model']);
/** How long a server told to stop (its stdin closed) may take to exit before it is killed. */
const STOP_GRACE_MS = 5000;

/** The engine a model slot uses: a resident one over a SubprocessEngine's command, unless it was switched off. */
export function slotEngine(engine: Engine): Engine {
  return engine instanceof SubprocessEngine && engine.options.resident !== false ? new ResidentEngine(engine.options) : engine;
}

export class ResidentEngine implements Engine {
  private server: Server | null = null;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly oneShot: SubprocessEngine;
  /** How many servers this engine has started (for tests and the overhead benchmark). */
  serversStarted = 0;

  constructor(readonly options: SubprocessEngineOptions) {
    if (options.command.length === 0) throw new Error('engine command is empty');
    this.oneShot = new SubprocessEngine({ ...options, resident: false });
  }

  run(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent> {
    const mine = this.turn.then(() => this.runNow(job, spec, opts));
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  /** The running server's process id (undefined when none runs). */
  get serverPid(): number | undefined {
    return this.server?.gone === false ? this.server.pid : undefined;
  }

  /** Stops the server (idle or not); the next generate job starts a new one. */
  async close(): Promise<void> {
    await this.turn;
    await this.stopServer();
  }

  private async runNow(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent> {
    if (!SERVED.has(job) || (opts.processes ?? 1) > 1) {
      if (NEEDS_THE_DEVICE.has(job) && visibleGpus({ ...this.options.env, ...opts.env }) > 0) await this.stopServer();
      return this.oneShot.run(job, spec, opts);
    }
    await writeSpec(opts.specPath, spec);
    if (opts.signal?.aborted) throw new EngineError('cancelled', `${job} cancelled before it started`);
    const env = { ...process.env, ...this.options.env, ...opts.env };
    const key = JSON.stringify(Object.entries({ ...this.options.env, ...opts.env }).sort());
    if (this.server && (this.server.gone || this.server.key !== key)) await this.stopServer();
    if (!this.server) {
      this.server = new Server(this.options, env, key);
      this.serversStarted += 1;
    }
    const server = this.server;
    try {
      return await server.run(job, opts);
    } finally {
      if (server.gone && this.server === server) this.server = null;
    }
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop();
  }
}

interface Current {
  id: string;
  job: EngineJob;
  opts: RunOptions;
  resolve: (event: EngineEvent) => void;
  reject: (err: Error) => void;
}

/** One `isheep_engine serve` process and the job it is running. */
class Server {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly stderrTail: string[] = [];
  private current: Current | null = null;
  private seq = 0;
  private killedForCancel = false;
  private readonly exited: Promise<void>;
  gone = false;

  constructor(
    options: SubprocessEngineOptions,
    env: NodeJS.ProcessEnv,
    readonly key: string,
  ) {
    const [cmd, ...prefix] = options.command as [string, ...string[]];
    this.child = spawn(cmd, [...prefix, 'serve'], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdin.on('error', () => undefined); // a server that died mid-write: its exit says why
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      if (process.env.ISHEEP_ENGINE_VERBOSE) process.stderr.write(`[engine serve${this.current ? ` ${this.current.job}` : ''}] ${line}\n`);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    process.once('exit', this.killGroup);
    this.exited = new Promise((resolve) => {
      const done = (how: string) => {
        this.gone = true;
        process.removeListener('exit', this.killGroup);
        this.fail(how);
        resolve();
      };
      this.child.on('error', (err) => done(`could not start (${cmd}): ${err.message}`));
      // 'close', not 'exit': the stdout lines written before it died are read first.
      this.child.on('close', (code, sig) => done(sig ? `was killed by ${sig}` : `exited with code ${code}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(job: EngineJob, opts: RunOptions): Promise<EngineEvent> {
    if (this.gone) return Promise.reject(new EngineError('exited', `engine ${job}: the resident engine is gone`));
    this.stderrTail.length = 0; // the tail an error shows is this job's
    const id = String(++this.seq);
    return new Promise<EngineEvent>((resolve, reject) => {
      const onAbort = () => {
        this.killedForCancel = true;
        this.killGroup();
      };
      const settle = <T>(fn: (v: T) => void) => (v: T) => {
        opts.signal?.removeEventListener('abort', onAbort);
        this.current = null;
        fn(v);
      };
      this.current = { id, job, opts, resolve: settle(resolve), reject: settle(reject) };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.child.stdin.write(`${JSON.stringify({ id, job, spec: opts.specPath })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (!this.gone) {
      this.child.stdin.end(); // an idle server ends at the end of its input
      const timer = setTimeout(this.killGroup, STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private readonly killGroup = () => {
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };

  private onLine(line: string): void {
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      this.stderrTail.push(`(stdout) ${line}`);
      return;
    }
    const current = this.current;
    if (!current || event.job_id !== current.id) {
      this.stderrTail.push(`(event of no current job) ${line}`);
      return;
    }
    const { job_id: _, ...rest } = event;
    const plain = rest as EngineEvent;
    if (plain.event === 'progress') current.opts.onProgress?.(plain);
    else if (plain.event === 'result') current.resolve(plain);
    else if (plain.event === 'error') current.reject(jobFailure(current.job, plain, this.stderrTail.join('\n')));
  }

  /** The server is gone: the job it was in fails as a one-job process's would. */
  private fail(how: string): void {
    const current = this.current;
    if (!current) return;
    const tail = this.stderrTail.join('\n');
    if (this.killedForCancel || current.opts.signal?.aborted) current.reject(new EngineError('cancelled', `${current.job} was cancelled`, tail));
    else current.reject(new EngineError('exited', `engine ${current.job} (resident) ${how} without a result; last stderr lines:\n${tail}`, tail));
  }
}
