/**
 * Where the benchmark files are, and reading them. A folder laid out like ../shared/eval (its README names each
 * file's upstream and hub dataset):
 *   ifeval/input_data.jsonl        IFEval's 541 prompts {key, prompt, instruction_id_list, kwargs}
 *   mt_bench/question.jsonl, mt_bench/reference_answer/gpt-4.jsonl, mt_bench/judge_prompts.jsonl   (FastChat's)
 *   alpaca_eval/gpt4_1106_preview.json, alpaca_eval/text_davinci_003.json, alpaca_eval/judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt
 * is looked for, in order, at the config's evaluation.data, at $ISHEEP_EVAL_DATA on the worker, and at
 * ../shared/eval beside the project. The product does not need the last one: it is where this repository's
 * tests and demo find the data. A suite whose files are in none of them fails the run at its start, saying
 * where it looked and how to supply them.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readLines } from '../artifacts/lines.js';
import { evalCacheDir, fetchEvalFiles } from './eval-download.js';
import { PROJECT_ROOT } from '../setup/tools.js';
import { parseAlpacaEvalOutputs, type AlpacaEvalExample, type AlpacaEvalReference } from '../stages/alpaca-eval.js';
import { parseJudgePrompts, parseMtBenchQuestions, parseMtBenchReferences, referencesById } from '../stages/mt-bench.js';
import { createRng } from '../stages/rng.js';

export const SUITE_FILES: Record<string, { files: string[]; hub: string }> = {
  ifeval: { files: ['ifeval/input_data.jsonl'], hub: 'the Hugging Face dataset google/IFEval (ifeval_input_data.jsonl)' },
  mtBench: {
    files: ['mt_bench/question.jsonl', 'mt_bench/reference_answer/gpt-4.jsonl', 'mt_bench/judge_prompts.jsonl'],
    hub: 'the Hugging Face dataset HuggingFaceH4/mt_bench_prompts, and FastChat\'s fastchat/llm_judge/data (reference answers, judge prompts)',
  },
  // The 805 instructions come from the 2.0 reference file, which every AlpacaEval run reads; 1.0's only when asked for.
  alpacaEval: {
    files: ['alpaca_eval/gpt4_1106_preview.json', 'alpaca_eval/judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt'],
    hub: 'the Hugging Face dataset tatsu-lab/alpaca_eval (config alpaca_eval_gpt4_baseline), and alpaca_eval\'s evaluators_configs/alpaca_eval_clf_gpt4_turbo',
  },
  'alpacaEval.text_davinci_003': {
    files: ['alpaca_eval/text_davinci_003.json'],
    hub: 'the Hugging Face dataset tatsu-lab/alpaca_eval (config alpaca_eval)',
  },
};


export class EvalDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalDataError';
  }
}

/** The folders to look in, each with where it came from. */
export function evalDataCandidates(
  configured: string | null,
  env: NodeJS.ProcessEnv = process.env,
  besideProject: string | null = resolve(PROJECT_ROOT, '..', 'shared', 'eval'),
): { from: string; dir: string | null }[] {
  return [
    { from: 'evaluation.data', dir: configured },
    { from: 'ISHEEP_EVAL_DATA', dir: env.ISHEEP_EVAL_DATA ?? null },
    { from: 'beside the project', dir: besideProject },
    { from: 'the download cache', dir: evalCacheDir(env) },
  ];
}

/**
 * resolveEvalDir, and where no folder holds the files (and none is named in the config), the pinned files fetched
 * into the download cache (eval-download.ts) when `fetchMissing`; EvalDataError naming every place and URL otherwise.
 */
export async function resolveOrFetchEvalDir(
  configured: string | null,
  suites: string[],
  fetchMissing: boolean,
  opts: { env?: NodeJS.ProcessEnv; fetchImpl?: typeof fetch; besideProject?: string | null } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  try {
    return resolveEvalDir(configured, suites, env, opts.besideProject);
  } catch (error) {
    if (!(error instanceof EvalDataError) || !fetchMissing || configured !== null) throw error;
    const needed = suites.flatMap((s) => SUITE_FILES[s]?.files ?? []);
    try {
      return await fetchEvalFiles(needed, env, opts.fetchImpl);
    } catch (fetchError) {
      throw new EvalDataError(`${error.message}
Fetching them failed too: ${(fetchError as Error).message}`);
    }
  }
}

/** The first folder that holds every file the suites need; EvalDataError naming each place otherwise. */
export function resolveEvalDir(configured: string | null, suites: string[], env: NodeJS.ProcessEnv = process.env, besideProject?: string | null): string {
  const needed = suites.flatMap((s) => SUITE_FILES[s]?.files ?? []);
  const looked: string[] = [];
  for (const { from, dir } of evalDataCandidates(configured, env, besideProject)) {
    if (dir === null) {
      looked.push(`${from}: not set`);
      continue;
    }
    const missing = needed.filter((f) => !existsSync(join(dir, f)));
    if (missing.length === 0) return dir;
    looked.push(`${from}: ${dir} has no ${missing.join(', ')}`);
    if (from === 'evaluation.data') break; // a folder named in the config is the one meant: look no further
  }
  const hubs = suites.filter((s) => SUITE_FILES[s]).map((s) => `${s}: ${SUITE_FILES[s]!.hub}`);
  throw new EvalDataError(
    `the evaluation data of ${suites.join(', ')} was not found; looked at\n${looked.map((l) => `  - ${l}`).join('\n')}\n` +
      `Supply a folder laid out as ${needed.map((f) => `<folder>/${f}`).join(', ')} with evaluation.data in the config or ISHEEP_EVAL_DATA on the workers (the files come from ${hubs.join('; ')}), or disable the suite (evaluation.suites.<suite>.enabled: false).`,
  );
}

export interface IfevalItem {
  key: number;
  prompt: string;
  instruction_id_list: string[];
  kwargs: Record<string, unknown>[];
}

/** IFEval's prompts, or a seeded subset of `limit` of them (in file order, the same for every model of a run). */
export async function readIfeval(dir: string, limit: number | null, seed: number): Promise<IfevalItem[]> {
  const file = join(dir, SUITE_FILES.ifeval!.files[0]!);
  const items: IfevalItem[] = [];
  for await (const line of readLines(file, 1 << 20)) {
    if (line.text.trim() === '') continue;
    let row: IfevalItem;
    try {
      row = JSON.parse(line.text) as IfevalItem;
    } catch {
      throw new EvalDataError(`${file} line ${line.number}: not valid JSON`);
    }
    if (typeof row.key !== 'number' || typeof row.prompt !== 'string' || !Array.isArray(row.instruction_id_list) || !Array.isArray(row.kwargs)) {
      throw new EvalDataError(`${file} line ${line.number}: not an IFEval item {key, prompt, instruction_id_list, kwargs}`);
    }
    items.push(row);
  }
  return seededSubset(items, limit, seed);
}

/** `limit` items chosen with a seeded shuffle, kept in their original order. */
export function seededSubset<T>(items: T[], limit: number | null, seed: number): T[] {
  if (limit === null || limit >= items.length) return items;
  const rng = createRng(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order
    .slice(0, limit)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}

/** MT-Bench's questions (or a seeded subset), the GPT-4 reference answers by question, and FastChat's judge prompts. */
export async function readMtBench(dir: string, limit: number | null, seed: number) {
  const text = (f: string) => readFile(join(dir, f), 'utf8');
  const [questions, references, judgePrompts] = await Promise.all(SUITE_FILES.mtBench!.files.map(text));
  return {
    questions: seededSubset(parseMtBenchQuestions(questions!), limit, seed),
    references: referencesById(parseMtBenchReferences(references!)),
    judgePrompts: parseJudgePrompts(judgePrompts!),
  };
}


export interface AlpacaEvalItem {
  /** Position in the 805 (the id is alpaca-<index>). */
  index: number;
  instruction: string;
  dataset: string;
}

/**
 * AlpacaEval's instructions (or a seeded subset), the reference outputs asked for by instruction, and the judge
 * template (alpaca_eval_clf.txt, the prompt of the 2.0 annotator).
 */
export async function readAlpacaEval(dir: string, limit: number | null, seed: number, references: readonly AlpacaEvalReference[]) {
  const read = async (name: string): Promise<AlpacaEvalExample[]> => {
    const file = join(dir, `alpaca_eval/${name}.json`);
    try {
      return parseAlpacaEvalOutputs(await readFile(file, 'utf8'));
    } catch (error) {
      throw new EvalDataError(`${file}: ${(error as Error).message}`);
    }
  };
  const instructions = await read('gpt4_1106_preview');
  const items = seededSubset(
    instructions.map((row, index) => ({ index, instruction: row.instruction, dataset: row.dataset })),
    limit,
    seed,
  );
  const outputs: Partial<Record<AlpacaEvalReference, Map<string, string>>> = {};
  for (const name of references) {
    const rows = name === 'gpt4_1106_preview' ? instructions : await read(name);
    outputs[name] = new Map(rows.map((r) => [r.instruction, r.output]));
  }
  const template = await readFile(join(dir, SUITE_FILES.alpacaEval!.files[1]!), 'utf8');
  return { items, references: outputs, template };
}
