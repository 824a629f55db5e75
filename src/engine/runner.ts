/**
 * Runs one engine job as a subprocess: `<command> <job> --spec spec.json`.
 *
 * The engine prints JSON lines on stdout: progress events, then one result or one error event.
 * Progress reaches the caller (the activity turns it into heartbeats); the job runs in its own process group
 * so cancelling kills everything it started; stderr is kept (its tail) to explain a crash.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

export type EngineJob = 'import-model' | 'generate' | 'train' | 'score-ifeval' | 'run-humaneval' | 'humaneval-problems' | 'run-lm-eval';

/** Error kinds the engine reports; `exited` is ours: the process died without saying why. */
export type EngineErrorKind = 'bad_input' | 'model_load' | 'out_of_memory' | 'crashed' | 'exited' | 'cancelled';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    readonly stderrTail: string = '',
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export type EngineEvent = { event: 'progress' | 'result' | 'error'; [key: string]: unknown };

export interface RunOptions {
  /** Where the spec file is written. */
  specPath: string;
  onProgress?: (event: EngineEvent) => void;
  /** Aborting kills the job's whole process group. */
  signal?: AbortSignal;
  /** Extra environment for the job (CUDA_VISIBLE_DEVICES of the slot, thread counts). */
  env?: Record<string, string>;
  /** Run the job as this many processes, one per GPU, under torchrun (train on a slot of several GPUs). */
  processes?: number;
}

export interface Engine {
  run(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent>;
  /** Stops what the engine keeps running between jobs (a resident engine's process); called when its worker ends. */
  close?(): Promise<void>;
}

export interface SubprocessEngineOptions {
  /** argv prefix, e.g. [python, '-m', 'isheep_engine']. */
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Model slots keep a resident engine over this command (src/engine/resident.ts: generate jobs in one long-lived
   * process that keeps its models loaded). Default true; false runs every job as a process of its own.
   */
  resident?: boolean;
}

/** The EngineError of a job's error event. */
export function jobFailure(job: EngineJob, error: EngineEvent, stderrTail: string): EngineError {
  const kind = (error.kind as EngineErrorKind | undefined) ?? 'crashed';
  return new EngineError(kind, `engine ${job}: ${String(error.message ?? 'failed')}`, stderrTail);
}

/** How many of a job's last stderr lines an error carries. */
export const STDERR_TAIL_LINES = 40;

/** Writes a job's spec where the job reads it (kept beside its output, so the job can be rerun by hand). */
export async function writeSpec(specPath: string, spec: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(specPath), { recursive: true });
  await writeFile(specPath, JSON.stringify(spec, null, 2));
}

export class SubprocessEngine implements Engine {
  constructor(readonly options: SubprocessEngineOptions) {
    if (options.command.length === 0) throw new Error('engine command is empty');
  }

  async run(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent> {
    await writeSpec(opts.specPath, spec);
    const [cmd, ...prefix] = this.options.command as [string, ...string[]];
    if (opts.signal?.aborted) throw new EngineError('cancelled', `${job} cancelled before it started`);

    // [python, '-m', 'isheep_engine'] becomes [python, '-m', 'torch.distributed.run', ..., '-m', 'isheep_engine'].
    const n = opts.processes ?? 1;
    const launcher = n > 1 ? ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${n}`] : [];
    const child = spawn(cmd, [...launcher, ...prefix, job, '--spec', opts.specPath], {
      cwd: this.options.cwd,
      env: { ...process.env, ...this.options.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a kill reaches the job's children too
    });

    const stderrTail: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
      if (process.env.ISHEEP_ENGINE_VERBOSE) process.stderr.write(`[engine ${job}] ${line}\n`);
    });

    const killGroup = () => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    opts.signal?.addEventListener('abort', killGroup, { once: true });
    // A worker that exits must not leave model jobs running behind it.
    process.once('exit', killGroup);

    let result: EngineEvent | undefined;
    let error: EngineEvent | undefined;
    const stdoutDone = new Promise<void>((resolve) => {
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        let event: EngineEvent;
        try {
          event = JSON.parse(line) as EngineEvent;
        } catch {
          stderrTail.push(`(stdout) ${line}`);
          return;
        }
        if (event.event === 'progress') opts.onProgress?.(event);
        else if (event.event === 'result') result = event;
        else if (event.event === 'error') error = event;
      });
      rl.on('close', resolve);
    });
    const exit = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, sig) => resolve({ code, sig }));
    });

    try {
      const { code, sig } = await exit;
      await stdoutDone;
      const tail = stderrTail.join('\n');
      if (opts.signal?.aborted) throw new EngineError('cancelled', `${job} was cancelled`, tail);
      if (error) throw jobFailure(job, error, tail);
      if (code === 0 && result) return result;
      const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      throw new EngineError('exited', `engine ${job} ${how} without a result; last stderr lines:\n${tail}`, tail);
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError('exited', `could not run engine ${job} (${cmd}): ${(err as Error).message}`);
    } finally {
      opts.signal?.removeEventListener('abort', killGroup);
      process.removeListener('exit', killGroup);
    }
  }
}
