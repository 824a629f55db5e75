/**
 * An in-process engine for orchestration benchmarks and tests: no subprocess, no model, jobs of a fixed
 * duration. It answers each kind of prompt as test/support/fake-engine.mjs does (numbered instruction lists
 * for synthesis meta-prompts, "<score>||<explanation>" judgments for grading prompts, answers otherwise), all
 * derived from a hash of the row id and the seed, so the same spec always gives the same output. The synthesized
 * instructions are built from a larger vocabulary than the fake engine's, so that ROUGE-L dedup keeps nearly all
 * of them and a synthesis round yields a predictable number of instructions.
 *
 * A job's wall time is `msPerJob` (+ `msPerRow` per generated row), whatever the work: the benchmark then knows
 * exactly how long the engine itself took, and everything else an activity spends is orchestration.
 * Every job is recorded in `jobs` (output path, start and end), so its duration can be matched with the
 * activity that ran it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EngineError, type Engine, type EngineEvent, type EngineJob, type RunOptions } from '../../src/engine/runner.js';

export interface SimulatedEngineOptions {
  /** Wall time of every job, in ms (default 400). */
  msPerJob?: number;
  /** Extra wall time per generated row (default 0). */
  msPerRow?: number;
  /** Per-job-kind durations that replace msPerJob (e.g. a longer train). */
  msByJob?: Partial<Record<EngineJob, number>>;
  /** Progress events per job, spread over its duration (default 4). */
  progressEvents?: number;
}

export interface SimulatedJobRecord {
  job: EngineJob;
  /** The spec's output path (absolute): a generate's JSONL, a train's or import's model folder. */
  output: string;
  /** Epoch ms (Date.now) when run() was entered and when it returned. */
  startedAt: number;
  endedAt: number;
  /** The job's own duration in ms (monotonic clock). */
  ms: number;
  rows: number;
  /** Set when the job was cancelled or failed. */
  error?: string;
}

const WORDS = (
  'river quantum budget poem recipe triangle history neuron carbon ledger violin glacier password orbit ' +
  'harvest theorem sonnet invoice compass protein volcano algorithm tariff lantern vaccine bridge mosaic ' +
  'satellite grammar fossil hurricane pension telescope enzyme marathon cipher dialect orchard magnet ' +
  'festival drought sculpture monsoon verdict pigment rhythm galaxy turbine kernel syllable canyon ' +
  'mortgage glucose parliament lighthouse spreadsheet irrigation comet migraine tournament vineyard ' +
  'reactor sandwich puzzle asteroid bakery contract keyboard wetland democracy vitamin courier tundra ' +
  'pendulum museum gravity ferment auction lyric plankton firewall mentor savanna quarry opera hedge ' +
  'insulin regatta sundial tapestry voltage workshop yoghurt zeppelin archive beetle clinic dolphin ' +
  'engine ferry granite harbor iceberg jungle kettle lagoon meadow nectar oyster pepper quiver rooftop'
).split(' ');
const ADJECTIVES = (
  'ancient brittle curious distant elegant fragile generous hidden humble jagged lively modern narrow ' +
  'obscure patient quiet rapid rural silent sturdy tangled urban vivid weary youthful zealous coastal ' +
  'digital frozen golden hollow'
).split(' ');
const AUDIENCES = (
  'children teachers nurses farmers engineers tourists students retirees chefs pilots lawyers artists ' +
  'sailors miners coders voters'
).split(' ');
const VERBS = ['Explain', 'Summarize', 'Compare', 'Describe', 'Classify', 'Rewrite', 'Evaluate', 'Outline', 'Critique', 'Suggest', 'List', 'Propose'];

const hash = (text: string) => createHash('sha256').update(text).digest();
const pick = <T>(list: readonly T[], byte: number | undefined): T => list[(byte ?? 0) % list.length] as T;

/** One instruction of ~10–13 words, most of them drawn at random: ROUGE-L F1 between two is far below 0.7. */
function instruction(seedText: string): string {
  const h = hash(seedText);
  const w = (i: number) => pick(WORDS, h[i]! * 256 + h[i + 1]!);
  const a = (i: number) => pick(ADJECTIVES, h[i]);
  const verb = pick(VERBS, h[0]);
  switch (h[1]! % 3) {
    case 0:
      return `${verb} the ${a(2)} ${w(3)} of ${w(5)} for ${pick(AUDIENCES, h[7])} who study ${w(8)} near a ${a(10)} ${w(11)}.`;
    case 1:
      return `${verb} how ${a(2)} ${w(3)} changes ${w(5)} ${w(8)} when ${pick(AUDIENCES, h[7])} meet ${a(10)} ${w(11)} ${w(13)}.`;
    default:
      return `${verb} three ${a(2)} ways ${pick(AUDIENCES, h[7])} could use ${w(3)} ${w(5)} against ${w(8)} ${w(11)} ${w(13)}.`;
  }
}

/** The text a model would reply to `row` (the shapes of fake-engine.mjs). */
export function simulatedReply(row: { id: string; prompt?: string; messages?: { content: string }[] }, seed: number): string {
  const text = row.prompt ?? row.messages?.at(-1)?.content ?? '';
  const h = hash(`${seed}:${row.id}`);
  if (/Instruction:\s*$/.test(text)) {
    const first = Number(/(\d+)\.\s*Instruction:\s*$/.exec(text)?.[1] ?? 6);
    const items: string[] = [];
    for (let k = 0; k < 4; k++) {
      const n = first + k;
      const label = k === 0 ? '' : `${n}. Instruction: `;
      const input = h[k]! % 3 === 0 ? `Some ${pick(WORDS, h[k + 8])} data.` : '<noinput>';
      items.push(`${label}${instruction(`${seed}:${row.id}:${k}`)}\n${n}. Input: ${input}`);
    }
    return `${items.join('\n\n')}\n\n${first + 4}. Instruction: Cut off mid`;
  }
  if (text.includes('||')) {
    const r = h[0]! % 10;
    if (r === 0) return 'I think this answer is fine.';
    return `${r < 3 ? 6 : 9}||The answer is ${r < 3 ? 'vague' : 'clear and correct'}.`;
  }
  return `Here is a careful answer about ${pick(WORDS, h[1])}: it depends on ${pick(WORDS, h[2])}.`;
}

export class SimulatedEngine implements Engine {
  readonly jobs: SimulatedJobRecord[] = [];
  private readonly msPerJob: number;
  private readonly msPerRow: number;
  private readonly msByJob: Partial<Record<EngineJob, number>>;
  private readonly progressEvents: number;

  constructor(opts: SimulatedEngineOptions = {}) {
    this.msPerJob = opts.msPerJob ?? 400;
    this.msPerRow = opts.msPerRow ?? 0;
    this.msByJob = opts.msByJob ?? {};
    this.progressEvents = Math.max(0, Math.floor(opts.progressEvents ?? 4));
  }

  /** How long a job of `kind` over `rows` rows lasts, in ms. */
  durationOf(kind: EngineJob, rows = 0): number {
    return (this.msByJob[kind] ?? this.msPerJob) + rows * this.msPerRow;
  }

  async run(job: EngineJob, spec: Record<string, unknown>, opts: RunOptions): Promise<EngineEvent> {
    if (opts.signal?.aborted) throw new EngineError('cancelled', `${job} cancelled before it started`);
    const startedAt = Date.now();
    const t0 = performance.now();
    const record: SimulatedJobRecord = { job, output: String(spec.output ?? ''), startedAt, endedAt: 0, ms: 0, rows: 0 };
    this.jobs.push(record);
    try {
      // The spec is written as the subprocess engine writes it, so tests can look at it the same way.
      await mkdir(dirname(opts.specPath), { recursive: true });
      await writeFile(opts.specPath, JSON.stringify(spec, null, 2));
      const result =
        job === 'generate'
          ? await this.generate(spec, opts, t0, record)
          : job === 'train'
            ? await this.train(spec, opts, t0, record)
            : job === 'import-model'
              ? await this.importModel(spec, opts, t0)
              : undefined;
      if (!result) throw new EngineError('bad_input', `engine: unknown job ${String(job)}`);
      return result;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      record.ms = performance.now() - t0;
      record.endedAt = Date.now();
    }
  }

  private async generate(spec: Record<string, unknown>, opts: RunOptions, t0: number, record: SimulatedJobRecord): Promise<EngineEvent> {
    const input = String(spec.input ?? '');
    const output = String(spec.output ?? '');
    if (!input || !existsSync(input)) throw new EngineError('bad_input', `engine generate: input file ${input} does not exist`);
    if (!output) throw new EngineError('bad_input', 'engine generate: the spec names no output');
    const seed = Number((spec.sampling as { seed?: unknown } | undefined)?.seed ?? 0);
    const rows = (await readFile(input, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { id: string; prompt?: string; messages?: { content: string }[] });
    record.rows = rows.length;
    opts.onProgress?.({ event: 'progress', stage: 'loading' });
    let newTokens = 0;
    const outputs = rows.map((row) => {
      const text = simulatedReply(row, seed);
      const tokens = text.split(/\s+/).length;
      newTokens += tokens;
      return { id: row.id, text, prompt_tokens: 10, new_tokens: tokens, finish_reason: 'stop' };
    });
    const duration = this.durationOf('generate', rows.length);
    await this.pace(t0, duration, opts, 'generate', (k, n) => {
      const done = Math.round((rows.length * k) / n);
      const partialTokens = outputs.slice(0, done).reduce((a, o) => a + o.new_tokens, 0);
      return { event: 'progress', stage: 'generating', done, total: rows.length, new_tokens: partialTokens, elapsed_s: (performance.now() - t0) / 1000 };
    });
    await writeAtomic(output, outputs.map((o) => `${JSON.stringify(o)}\n`).join(''));
    const elapsed = (performance.now() - t0) / 1000;
    return { event: 'result', output, rows: rows.length, new_tokens: newTokens, tokens_per_s: elapsed > 0 ? newTokens / elapsed : 0, elapsed_s: elapsed };
  }

  private async train(spec: Record<string, unknown>, opts: RunOptions, t0: number, record: SimulatedJobRecord): Promise<EngineEvent> {
    const data = String(spec.data ?? '');
    const output = String(spec.output ?? '');
    if (!data || !existsSync(data)) throw new EngineError('bad_input', `engine train: data file ${data} does not exist`);
    if (!output) throw new EngineError('bad_input', 'engine train: the spec names no output');
    const rows = (await readFile(data, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    if (rows.length === 0) throw new EngineError('bad_input', `engine train: no training rows in ${data}`);
    record.rows = rows.length;
    const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
    const valSamples = Math.floor(rows.length * num(spec.val_fraction, 0));
    const trainSamples = rows.length - valSamples;
    const perStep = num(spec.per_device_batch_size, 1) * num(spec.gradient_accumulation_steps, 1);
    let steps = Math.max(1, Math.ceil((trainSamples * num(spec.epochs, 1)) / perStep));
    if (typeof spec.max_steps === 'number') steps = Math.min(steps, spec.max_steps);
    await this.pace(t0, this.durationOf('train'), opts, 'train', (k, n) => {
      const step = Math.max(1, Math.round((steps * k) / n));
      return { event: 'progress', step, total_steps: steps, loss: 2 / step, lr: spec.learning_rate, epoch: (num(spec.epochs, 1) * step) / steps };
    });
    await writeModelFolder(output, { simulated: true, base_model: spec.base_model, data_sha256: hash(rows.join('\n')).toString('hex'), steps });
    return {
      event: 'result',
      output,
      train_loss: 1.5,
      eval_loss: valSamples > 0 ? 1.7 : null,
      steps,
      train_samples: trainSamples,
      val_samples: valSamples,
      elapsed_s: (performance.now() - t0) / 1000,
    };
  }

  private async importModel(spec: Record<string, unknown>, opts: RunOptions, t0: number): Promise<EngineEvent> {
    const output = String(spec.output ?? '');
    if (!output) throw new EngineError('bad_input', 'engine import-model: the spec names no output');
    const reused = existsSync(join(output, 'config.json'));
    await this.pace(t0, this.durationOf('import-model'), opts, 'import-model', () => ({ event: 'progress', stage: 'importing' }));
    if (!reused) await writeModelFolder(output, { simulated: true, source: spec.source });
    return { event: 'result', model_dir: output, params: 0, reused };
  }

  /**
   * Waits until `duration` ms after t0, emitting progress events evenly over the wait; an abort rejects with
   * EngineError('cancelled') at once.
   */
  private async pace(
    t0: number,
    duration: number,
    opts: RunOptions,
    job: EngineJob,
    progress: (k: number, n: number) => EngineEvent,
  ): Promise<void> {
    const n = this.progressEvents;
    for (let k = 1; k <= Math.max(1, n); k++) {
      const until = t0 + (duration * k) / Math.max(1, n);
      await abortableSleep(until - performance.now(), opts.signal, job);
      if (n > 0) opts.onProgress?.(progress(k, n));
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined, job: EngineJob): Promise<void> {
  if (signal?.aborted) return Promise.reject(new EngineError('cancelled', `${job} was cancelled`));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new EngineError('cancelled', `${job} was cancelled`));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

let tmpCounter = 0;
const tmpSuffix = () => `.tmp-${process.pid}-${++tmpCounter}`;

async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}${tmpSuffix()}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** A model folder with a config.json, built under a temporary name and renamed into place. */
async function writeModelFolder(path: string, config: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}${tmpSuffix()}`;
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'config.json'), JSON.stringify(config));
  await rm(path, { recursive: true, force: true });
  await rename(tmp, path);
}
