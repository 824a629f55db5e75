/**
 * `isheep export`: one iteration's kept pairs (kept.jsonl, its training data) as a folder that TRL,
 * LLaMA-Factory and `datasets.load_dataset("json", data_files=...)` read as it is:
 *
 *   train.jsonl         the pairs in the chosen format (alpaca | messages | sharegpt, src/stages/export.ts)
 *   dataset_info.json   LLaMA-Factory's description of it (dataset_dir=the folder, dataset=its one entry)
 *   README.md           the iteration's data card, with a dataset-card header naming train.jsonl as the train split
 *
 * Everything is checked before anything is written, and the folder appears whole or not at all (written beside
 * it, then renamed into place).
 */
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../artifacts/store.js';
import { configSchema } from '../config/schema.js';
import { toAlpaca, toMessages, toShareGpt } from '../stages/export.js';
import type { Pair } from '../stages/types.js';
import type { BestIteration, IterationCard } from '../workflows/types.js';
import { renderCard } from './card.js';
import { CliError } from './run-state.js';

export const EXPORT_FORMATS = ['alpaca', 'messages', 'sharegpt'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const DATA_FILE = 'train.jsonl';

export interface ExportRequest {
  store: Store;
  run: string;
  /** Absent: the run's best iteration (report.json) if it has one, else its last finished one. */
  iteration?: number;
  format: ExportFormat;
  /** The folder to write (absent: <run>-iter-<t>-<format> in `cwd`); it must not exist, or be empty. */
  out?: string;
  cwd?: string;
}

export interface ExportResult {
  dir: string;
  iteration: number;
  rows: number;
  /** Why this iteration: asked for, the run's best, or its last. */
  chosen: 'asked' | 'best' | 'last';
  best: BestIteration | null;
}

const toRow: Record<ExportFormat, (pair: Pair) => unknown> = { alpaca: toAlpaca, messages: toMessages, sharegpt: toShareGpt };

/** LLaMA-Factory's dataset_info.json entry for the file (its data/README.md: alpaca, sharegpt, OpenAI format). */
export function datasetInfo(name: string, format: ExportFormat, file = DATA_FILE): Record<string, unknown> {
  const entry =
    format === 'alpaca'
      ? { file_name: file, columns: { prompt: 'instruction', query: 'input', response: 'output' } }
      : format === 'sharegpt'
        ? { file_name: file, formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system' } }
        : {
            file_name: file,
            formatting: 'sharegpt',
            columns: { messages: 'messages' },
            tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
          };
  return { [name]: entry };
}

/** Iterations of a run that have finished (their card.json is written), in order. */
function finishedIterations(store: Store, run: string): number[] {
  const dir = store.path(`runs/${run}`);
  return readdirSync(dir)
    .map((name) => /^iter-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0], 'card.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

const hasKept = (store: Store, run: string, t: number) => store.exists(`runs/${run}/iter-${t}/kept.jsonl`);

/** The run's best iteration by evaluation.select, from its report (written when the run ends). */
function bestOf(store: Store, run: string): BestIteration | null {
  const uri = `runs/${run}/report.json`;
  if (!store.exists(uri)) return null;
  try {
    const report = JSON.parse(readFileSync(store.path(uri), 'utf8')) as { best?: BestIteration | null };
    return report.best ?? null;
  } catch (err) {
    throw new CliError(`${store.path(uri)} is not valid JSON (${(err as Error).message})`);
  }
}

function range(iterations: number[]): string {
  if (iterations.length === 0) return 'none';
  const contiguous = iterations.every((t, i) => i === 0 || t === iterations[i - 1]! + 1);
  return contiguous && iterations.length > 1 ? `${iterations[0]}–${iterations[iterations.length - 1]}` : iterations.join(', ');
}

/** Which iteration to export, and why; refuses one that is out of range or kept nothing. */
function chooseIteration(store: Store, run: string, asked: number | undefined): { iteration: number; chosen: ExportResult['chosen']; best: BestIteration | null } {
  const finished = finishedIterations(store, run);
  const best = bestOf(store, run);
  const keptNothing = (t: number) => {
    const card = readCard(store, run, t);
    const why = card.training?.skipped ? `: ${card.training.reason}` : '';
    return new CliError(`iteration ${t} of run ${run} kept no pairs${why}`);
  };
  if (asked !== undefined) {
    if (!Number.isInteger(asked) || !finished.includes(asked)) {
      throw new CliError(`--iteration ${asked} is out of range: run ${run} has finished iterations ${range(finished)}`);
    }
    if (!hasKept(store, run, asked)) throw keptNothing(asked);
    return { iteration: asked, chosen: 'asked', best };
  }
  // The base model (iteration 0) has no data of its own: then, as without a best, the last iteration that kept pairs.
  if (best && best.iteration >= 1 && finished.includes(best.iteration) && hasKept(store, run, best.iteration)) {
    return { iteration: best.iteration, chosen: 'best', best };
  }
  const withData = finished.filter((t) => hasKept(store, run, t));
  if (withData.length === 0) {
    if (finished.length === 0) throw new CliError(`run ${run} has no finished iteration yet`);
    throw keptNothing(finished[finished.length - 1]!);
  }
  return { iteration: withData[withData.length - 1]!, chosen: 'last', best };
}

function readCard(store: Store, run: string, t: number): IterationCard {
  const file = store.path(`runs/${run}/iter-${t}/card.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as IterationCard;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON (${(err as Error).message})`);
  }
}

/** The folder's README.md: a dataset-card header (the train split is train.jsonl), how to load it, the data card. */
export function renderDatasetReadme(opts: {
  run: string;
  iteration: number;
  format: ExportFormat;
  rows: number;
  name: string;
  card: IterationCard;
  source: { uri: string; sha256: string };
  chosen: ExportResult['chosen'];
  best: BestIteration | null;
}): string {
  const { run, iteration: t, format, card } = opts;
  const why =
    opts.chosen === 'best'
      ? ` It is the run's best iteration by ${opts.best!.metric}.`
      : opts.chosen === 'last' && opts.best
        ? ` (The run's best by ${opts.best.metric} is ${opts.best.iteration === 0 ? 'the base model' : `iteration ${opts.best.iteration}`}.)`
        : '';
  const columns = {
    alpaca: '`instruction`, `input` (empty when the task has none) and `output`',
    messages: '`messages`: the system prompt, the task as the user turn, the answer as the assistant turn (TRL\'s conversational format)',
    sharegpt: '`system` and `conversations`: the task from `human`, the answer from `gpt` (LLaMA-Factory\'s sharegpt formatting)',
  }[format];
  return [
    '---',
    `pretty_name: ${JSON.stringify(`I-SHEEP ${run} iteration ${t}`)}`,
    'tags: [i-sheep, self-alignment, synthetic, sft]',
    'task_categories: [text-generation]',
    'configs:',
    '- config_name: default',
    '  data_files:',
    '  - split: train',
    `    path: ${DATA_FILE}`,
    '---',
    '',
    `# I-SHEEP run ${run}, iteration ${t}`,
    '',
    `${opts.rows} instruction–response pairs that model ${card.model} wrote, answered and kept by its own grading in iteration ${t} of the I-SHEEP run ${run}.${why}`,
    '',
    `- \`${DATA_FILE}\`: one pair per line, format **${format}**: ${columns}.`,
    `- \`dataset_info.json\`: LLaMA-Factory's description (\`dataset: ${opts.name}\`, \`dataset_dir:\` this folder).`,
    `- Made from \`${opts.source.uri}\` (sha256 ${opts.source.sha256}).`,
    '',
    '```python',
    'from datasets import load_dataset',
    `ds = load_dataset("json", data_files="${DATA_FILE}", split="train")`,
    '```',
    '',
    '## Data card',
    '',
    '```',
    renderCard(card),
    '```',
    '',
    '<details><summary>card.json</summary>',
    '',
    '```json',
    JSON.stringify(card, null, 2),
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
}

export async function exportIteration(req: ExportRequest): Promise<ExportResult> {
  const { store, run, format } = req;
  const valid = configSchema.shape.name.safeParse(run); // a run name is one folder under runs/, never a path
  if (!valid.success) throw new CliError(`${JSON.stringify(run)} is not a run name: ${valid.error.issues.map((i) => i.message).join('; ')}`);
  if (!EXPORT_FORMATS.includes(format)) throw new CliError(`--format must be one of ${EXPORT_FORMATS.join(', ')}; got ${String(format)}`);
  if (!store.exists(`runs/${run}`)) throw new CliError(`no run ${run} in the store at ${store.root} (ISHEEP_STORE)`);
  const { iteration: t, chosen, best } = chooseIteration(store, run, req.iteration);
  const dir = resolve(req.cwd ?? process.cwd(), req.out ?? `${run}-iter-${t}-${format}`);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new CliError(`--out ${dir} exists and is not an empty folder: choose another, or remove it first`);
  }
  const card = readCard(store, run, t);
  const source = await store.refOf(`runs/${run}/iter-${t}/kept.jsonl`);
  const name = `${run}-iter-${t}`;

  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await mkdir(tmp);
  try {
    // Streamed: memory stays flat however many pairs the iteration kept.
    async function* rows() {
      for await (const pair of store.readJsonl<Pair>(source)) yield `${JSON.stringify(toRow[format](pair))}\n`;
    }
    await pipeline(Readable.from(rows()), createWriteStream(join(tmp, DATA_FILE)));
    await writeFile(join(tmp, 'dataset_info.json'), `${JSON.stringify(datasetInfo(name, format), null, 2)}\n`);
    await writeFile(join(tmp, 'README.md'), renderDatasetReadme({ run, iteration: t, format, rows: source.rows, name, card, source, chosen, best }));
    await rename(tmp, dir); // over an empty folder too
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, iteration: t, rows: source.rows, chosen, best };
}
