/**
 * Fetching the benchmark files where no folder holds them: each file is pinned by its sha256 (the byte-exact
 * upstream file, as ../shared/eval/README.md lists them) and fetched from the Hugging Face hub where the hub holds
 * that exact file (IFEval: google/IFEval), else from its upstream repository at the pinned commit (FastChat's
 * MT-Bench data, AlpacaEval's reference outputs and judge template, which the hub datasets carry only reformatted).
 * A download whose sha256 differs is refused and the next source tried; nothing unverified is ever used. Files land,
 * atomically, in a cache folder laid out like ../shared/eval ($ISHEEP_EVAL_CACHE, default ~/.cache/isheep/eval), so
 * they are fetched once per machine. $HF_ENDPOINT and $ISHEEP_GITHUB_RAW replace https://huggingface.co and
 * https://raw.githubusercontent.com (mirrors; the tests' local server).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

interface Source {
  sha256: string;
  /** Where to fetch it, in order: "hub:<repo>@<revision>/<path>" or "github:<owner>/<repo>@<commit>/<path>". */
  from: string[];
}

const FASTCHAT = 'github:lm-sys/FastChat@0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data';
const ALPACA_EVAL = 'github:tatsu-lab/alpaca_eval@cd543a149df89434d8a54582c0151c0b945c3d20';

export const EVAL_SOURCES: Record<string, Source> = {
  'ifeval/input_data.jsonl': {
    sha256: '67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49',
    from: [
      'hub:google/IFEval@966cd89545d6b6acfd7638bc708b98261ca58e84/ifeval_input_data.jsonl',
      'github:google-research/google-research@19638399cc9e03623c5b9087a1d6fa8813974ce9/instruction_following_eval/data/input_data.jsonl',
    ],
  },
  'mt_bench/question.jsonl': { sha256: '119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7', from: [`${FASTCHAT}/mt_bench/question.jsonl`] },
  'mt_bench/reference_answer/gpt-4.jsonl': {
    sha256: 'f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f',
    from: [`${FASTCHAT}/mt_bench/reference_answer/gpt-4.jsonl`],
  },
  'mt_bench/judge_prompts.jsonl': { sha256: 'fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6', from: [`${FASTCHAT}/judge_prompts.jsonl`] },
  'alpaca_eval/gpt4_1106_preview.json': {
    sha256: '83db546b872ddebee8965fd05fa48461ee3c32bc695c62fb57f2d214ff741ec4',
    from: [`${ALPACA_EVAL}/results/gpt4_1106_preview/model_outputs.json`],
  },
  'alpaca_eval/text_davinci_003.json': {
    sha256: 'af0bc112f08c88bf589bbfe6fc1036806d0a0f6fec9c4d5a4db860f5afe73b4b',
    from: [`${ALPACA_EVAL}/results/text_davinci_003/model_outputs.json`],
  },
  'alpaca_eval/judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt': {
    sha256: '784227e6dc2832fc08c43d2c8ea3a308e7523780187a1aaad2f85e30bac85f62',
    from: [`${ALPACA_EVAL}/src/alpaca_eval/evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt`],
  },
};

/** The folder downloads go to (a layout like ../shared/eval). */
export function evalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ISHEEP_EVAL_CACHE ?? join(homedir(), '.cache', 'isheep', 'eval');
}

/** The URL a source names, with the endpoints of `env`. */
export function sourceUrl(source: string, env: NodeJS.ProcessEnv = process.env): string {
  const match = /^(hub|github):([^@]+)@([^/]+)\/(.+)$/.exec(source);
  if (!match) throw new Error(`not a source: ${source}`);
  const [, kind, repo, revision, path] = match as unknown as [string, string, string, string, string];
  if (kind === 'hub') return `${(env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '')}/datasets/${repo}/resolve/${revision}/${path}`;
  return `${(env.ISHEEP_GITHUB_RAW ?? 'https://raw.githubusercontent.com').replace(/\/$/, '')}/${repo}/${revision}/${path}`;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** True when `dir` holds `file` with its pinned content. */
export function holdsVerified(dir: string, file: string): boolean {
  const path = join(dir, file);
  return existsSync(path) && sha256(readFileSync(path)) === EVAL_SOURCES[file]?.sha256;
}

/**
 * Fetches the files missing from the cache (verified) and returns the cache folder; throws naming, per file, each
 * URL tried and why it was refused.
 */
export async function fetchEvalFiles(files: string[], env: NodeJS.ProcessEnv = process.env, fetchImpl: typeof fetch = fetch): Promise<string> {
  const dir = evalCacheDir(env);
  const failures: string[] = [];
  for (const file of files) {
    const source = EVAL_SOURCES[file];
    if (!source) throw new Error(`no pinned source for ${file}`);
    if (holdsVerified(dir, file)) continue;
    const tried: string[] = [];
    let done = false;
    for (const from of source.from) {
      const url = sourceUrl(from, env);
      try {
        const response = await fetchImpl(url, { signal: AbortSignal.timeout(120_000) });
        if (!response.ok) {
          tried.push(`${url}: HTTP ${response.status}`);
          continue;
        }
        const data = Buffer.from(await response.arrayBuffer());
        const got = sha256(data);
        if (got !== source.sha256) {
          tried.push(`${url}: sha256 ${got.slice(0, 12)}…, not the pinned ${source.sha256.slice(0, 12)}…`);
          continue;
        }
        const path = join(dir, file);
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.download-${process.pid}`;
        await writeFile(tmp, data);
        await rename(tmp, path);
        done = true;
        break;
      } catch (error) {
        tried.push(`${url}: ${(error as Error).message}`);
      }
    }
    if (!done) failures.push(`${file}: ${tried.join('; ')}`);
  }
  if (failures.length > 0) throw new Error(`could not fetch ${failures.length} benchmark file(s):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  return dir;
}
