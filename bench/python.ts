/**
 * The benchmarks' Python side: the venv with Google's rouge-score (bench/setup-python.sh makes it once) and the
 * reference script bench/rouge_dedup.py.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REFERENCE_SCRIPT = join(BENCH_DIR, 'rouge_dedup.py');

/**
 * The python of the bench venv, created when missing (needs PyPI then). ISHEEP_BENCH_PYTHON, when set, is used
 * as it is instead (it must be able to import rouge_score).
 */
export function benchPython(): string {
  const preset = process.env.ISHEEP_BENCH_PYTHON;
  if (preset) return preset;
  return benchVenv('requirements.txt', 'rouge_score.rouge_scorer');
}

/** The python of a bench venv made from bench/<requirements> (created when missing), which must import `check`. */
export function benchVenv(requirements: string, check: string): string {
  const r = spawnSync('bash', [join(BENCH_DIR, 'setup-python.sh'), requirements, check], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.error) throw new Error(`could not run bench/setup-python.sh: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`bench/setup-python.sh exited with ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  const python = lines[lines.length - 1];
  if (!python) throw new Error('bench/setup-python.sh printed no python path');
  return python;
}

export type Prf = [precision: number, recall: number, fmeasure: number];

/** rouge-score's `RougeScorer(['rougeL']).score(target, prediction)['rougeL']` for each pair, exactly. */
export function rougeScoreReference(pairs: readonly (readonly [string, string])[], python: string = benchPython()): Prf[] {
  const dir = mkdtempSync(join(tmpdir(), 'isheep-rouge-pairs-'));
  try {
    const input = join(dir, 'pairs.json');
    const output = join(dir, 'scores.json');
    writeFileSync(input, JSON.stringify(pairs));
    runPython(python, [REFERENCE_SCRIPT, '--pairs', input, '--out', output]);
    return JSON.parse(readFileSync(output, 'utf8')) as Prf[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PythonDedupOptions {
  input: string;
  n: number;
  style: 'alpaca' | 'self-instruct';
  parallel: 'none' | 'pool' | 'sharded';
  workers: number;
  threshold: number;
}

export interface PythonDedupResult {
  n: number;
  kept: number[];
  seconds: number;
  /** CPU time (user + system) of the Python process and its workers over the loop. */
  cpu_seconds: number;
  pairs: number;
  style: string;
  parallel: string;
  workers: number;
  threshold: number;
  python: string;
}

/** Runs the reference dedup once (progress on stderr) and returns its kept ids and wall time. */
export function pythonDedup(options: PythonDedupOptions, python: string = benchPython()): PythonDedupResult {
  const dir = mkdtempSync(join(tmpdir(), 'isheep-rouge-dedup-'));
  try {
    const output = join(dir, 'result.json');
    runPython(python, [
      REFERENCE_SCRIPT,
      '--input', options.input,
      '--n', String(options.n),
      '--style', options.style,
      '--parallel', options.parallel,
      '--workers', String(options.workers),
      '--threshold', String(options.threshold),
      '--out', output,
    ]);
    return JSON.parse(readFileSync(output, 'utf8')) as PythonDedupResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runPython(python: string, args: string[]): void {
  const r = spawnSync(python, args, { stdio: ['ignore', 'inherit', 'inherit'], maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`could not run ${python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${python} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}
