/**
 * `isheep export`: a real two-iteration run on the dev server with the test engine, then the CLI as people run it
 * (`tsx src/cli/main.ts export …` against the store), and each exported folder loaded by Hugging Face `datasets`
 * in the engine's Python environment, as TRL and LLaMA-Factory load it. Bad input is refused and writes nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/artifacts/store.js';
import { renderCard } from '../src/cli/card.js';
import { exportIteration } from '../src/cli/export.js';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import { loadTools } from '../src/setup/tools.js';
import { RESPONSE_SYSTEM_PROMPT, taskText } from '../src/stages/responses.js';
import type { Pair } from '../src/stages/types.js';
import type { IterationCard, RunResult } from '../src/workflows/types.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const RUN = 'export-run';

let env: TestWorkflowEnvironment;
let storeRoot: string;
let result: RunResult;
beforeAll(async () => {
  env = await startTemporal();
  const store = tempStore();
  storeRoot = store.root;
  // IFEval follows 0.3 (base), 0.7 (M_1), 0.5 (M_2): iteration 1 is the run's best, iteration 2 its last.
  const workers = await hostWorkers(env, store, fakeEngine({ FAKE_IFEVAL_CURVE: '0.3,0.7,0.5' }));
  const cfg = withPreset('demo', {
    name: RUN,
    iterations: 2,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 8, promptsPerRound: 2, maxRounds: 3 },
    engine: { shardSize: 16 },
    evaluation: { suites: { ifeval: { limit: 10 }, mtBench: { enabled: false } } },
  });
  result = (await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: RUN, args: [cfg] }))) as RunResult;
});
afterAll(async () => {
  await env?.teardown();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function isheep(args: string[], store = storeRoot, cwd = ROOT): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(TSX, [MAIN, ...args], { cwd, env: { ...process.env, ISHEEP_STORE: store }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', fail);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

const jsonl = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const kept = (t: number) => jsonl(join(storeRoot, 'runs', RUN, `iter-${t}`, 'kept.jsonl')) as Pair[];

/**
 * Loads a folder as the trainers do, with `datasets`: load_dataset("json", data_files=…) on the file LLaMA-Factory's
 * description (dataset_info.json) names, and load_dataset(folder) by the README's header; prints what was read.
 */
const LOAD = `
import json, os, sys
from datasets import load_dataset
folder = sys.argv[1]
info = json.load(open(os.path.join(folder, "dataset_info.json")))
(name, entry), = info.items()
ds = load_dataset("json", data_files=os.path.join(folder, entry["file_name"]), split="train")
# The folder itself: its README.md's dataset-card header names train.jsonl as the train split.
whole = load_dataset(folder, split="train")
assert whole.to_list() == ds.to_list(), "load_dataset(folder) reads other rows than load_dataset('json', ...)"
print(json.dumps({"name": name, "entry": entry, "rows": ds.num_rows, "columns": ds.column_names, "data": ds.to_list()}))
`;

function loadWithDatasets(folder: string): { name: string; entry: Record<string, unknown>; rows: number; columns: string[]; data: Record<string, unknown>[] } {
  const python = loadTools().python;
  if (!python) throw new Error('no engine environment: run `npm run setup`');
  const cache = mkdtempSync(join(tmpdir(), 'isheep-hf-'));
  const out = execFileSync(python, ['-c', LOAD, folder], {
    encoding: 'utf8',
    env: { ...process.env, HF_DATASETS_CACHE: cache, HF_HOME: cache, HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1', HF_HUB_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  rmSync(cache, { recursive: true, force: true });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('isheep export', () => {
  it('writes each format as a folder datasets loads as it is, for the best iteration by default, with the data card as README.md', async () => {
    expect(result.best?.iteration).toBe(1);
    const base = mkdtempSync(join(tmpdir(), 'isheep-export-'));
    const pairs = kept(1);
    expect(pairs.length).toBeGreaterThan(0);
    const card = JSON.parse(readFileSync(join(storeRoot, 'runs', RUN, 'iter-1', 'card.json'), 'utf8')) as IterationCard;

    for (const format of ['alpaca', 'messages', 'sharegpt'] as const) {
      const out = join(base, format);
      const ran = await isheep(['export', RUN, '--format', format, '--out', out]);
      expect(ran.stderr).toBe('');
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain(`exported ${pairs.length} pairs of ${RUN} iteration 1 (its best by ifeval.promptStrict) as ${format} to ${out}`);
      expect(readdirSync(out).sort()).toEqual(['README.md', 'dataset_info.json', 'train.jsonl']);

      const loaded = loadWithDatasets(out);
      expect(loaded.name).toBe(`${RUN}-iter-1`);
      expect(loaded.rows).toBe(pairs.length);
      expect(loaded.entry.file_name).toBe('train.jsonl');
      // Every column LLaMA-Factory's description names is a column of the loaded dataset.
      for (const column of Object.values(loaded.entry.columns as Record<string, string>)) expect(loaded.columns).toContain(column);
      if (format === 'alpaca') {
        expect(loaded.entry.formatting).toBeUndefined(); // alpaca is LLaMA-Factory's default
        expect(loaded.columns.sort()).toEqual(['input', 'instruction', 'output']);
        expect(loaded.data).toEqual(pairs.map((p) => ({ instruction: p.instruction, input: p.input, output: p.response })));
      } else if (format === 'messages') {
        // TRL's conversational format: one "messages" column of {role, content}; LLaMA-Factory reads it with OpenAI tags.
        expect(loaded.columns).toEqual(['messages']);
        expect(loaded.entry).toMatchObject({ formatting: 'sharegpt', columns: { messages: 'messages' }, tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' } });
        expect(loaded.data).toEqual(
          pairs.map((p) => ({
            messages: [
              { role: 'system', content: RESPONSE_SYSTEM_PROMPT },
              { role: 'user', content: taskText(p) },
              { role: 'assistant', content: p.response },
            ],
          })),
        );
      } else {
        // LLaMA-Factory's sharegpt: human and gpt turns in "conversations" (its default tags), the system prompt in its column.
        expect(loaded.columns.sort()).toEqual(['conversations', 'system']);
        expect(loaded.entry).toEqual({ file_name: 'train.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system' } });
        expect(loaded.data).toEqual(
          pairs.map((p) => ({
            system: RESPONSE_SYSTEM_PROMPT,
            conversations: [
              { from: 'human', value: taskText(p) },
              { from: 'gpt', value: p.response },
            ],
          })),
        );
      }
      const readme = readFileSync(join(out, 'README.md'), 'utf8');
      expect(readme).toMatch(/^---\n[\s\S]*configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train\.jsonl\n---\n/);
      expect(readme).toContain(renderCard(card));
      expect(readme).toContain(`${pairs.length} instruction–response pairs`);
      expect(readme).toContain("It is the run's best iteration by ifeval.promptStrict.");
    }
    // Nothing else was left beside the folders (no half-written temporary ones).
    expect(readdirSync(base).sort()).toEqual(['alpaca', 'messages', 'sharegpt']);
  });

  it('exports the iteration asked for, the last one of a run without a report, into an empty folder or the default one', async () => {
    const base = mkdtempSync(join(tmpdir(), 'isheep-export-'));
    const asked = join(base, 'asked');
    mkdirSync(asked); // an empty folder is fine
    const ran = await isheep(['export', RUN, '--iteration', '2', '--format', 'alpaca', '--out', asked]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`of ${RUN} iteration 2 as alpaca`);
    expect(loadWithDatasets(asked).rows).toBe(kept(2).length);

    // A run still under way has no report.json: its last finished iteration, written to <name>-iter-<t>-<format> in the cwd.
    const running = mkdtempSync(join(tmpdir(), 'isheep-store-'));
    cpSync(join(storeRoot, 'runs', RUN), join(running, 'runs', RUN), { recursive: true });
    rmSync(join(running, 'runs', RUN, 'report.json'));
    const cwd = mkdtempSync(join(tmpdir(), 'isheep-cwd-'));
    const last = await isheep(['export', RUN, '--format', 'messages'], running, cwd);
    expect(last.code).toBe(0);
    expect(last.stdout).toContain(`iteration 2 (its last) as messages to ${join(cwd, `${RUN}-iter-2-messages`)}`);
    expect(loadWithDatasets(join(cwd, `${RUN}-iter-2-messages`)).rows).toBe(kept(2).length);
  });

  it('refuses an unknown run, an iteration out of range, an unknown format and a non-empty --out, writing nothing', async () => {
    const base = mkdtempSync(join(tmpdir(), 'isheep-export-'));
    const out = join(base, 'out');
    // The command as people run it: the message, a failing exit code, nothing on stdout.
    const refused = async (args: string[], message: RegExp | string) => {
      const ran = await isheep(args);
      expect(ran.code, ran.stderr).toBe(1);
      expect(ran.stderr).toMatch(message);
      expect(ran.stdout).toBe('');
    };
    await refused(['export', 'no-such-run', '--format', 'alpaca', '--out', out], `isheep: no run no-such-run in the store at ${storeRoot}`);
    await refused(['export', RUN, '--iteration', 'two', '--format', 'alpaca', '--out', out], /--iteration expects a whole number, got two/);
    await refused(['export', RUN, '--format', 'csv', '--out', out], /argument 'csv' is invalid\. Allowed choices are alpaca, messages, sharegpt/);
    mkdirSync(out);
    writeFileSync(join(out, 'mine.txt'), 'keep me');
    await refused(['export', RUN, '--format', 'alpaca', '--out', out], `isheep: --out ${out} exists and is not an empty folder`);
    expect(readdirSync(out)).toEqual(['mine.txt']);
    expect(readFileSync(join(out, 'mine.txt'), 'utf8')).toBe('keep me');

    // The rest through the command's function itself (each CLI start costs seconds on two cores).
    const store = new Store(storeRoot);
    const fresh = join(base, 'fresh');
    const refusedHere = (req: Partial<Parameters<typeof exportIteration>[0]>, message: RegExp | string) =>
      expect(exportIteration({ store, run: RUN, format: 'alpaca', out: fresh, ...req })).rejects.toThrow(message);
    await refusedHere({ iteration: 3 }, `--iteration 3 is out of range: run ${RUN} has finished iterations 1–2`);
    await refusedHere({ iteration: 0 }, /--iteration 0 is out of range/);
    await refusedHere({ iteration: 1.5 }, /--iteration 1.5 is out of range/);
    await refusedHere({ run: '../etc' }, /"\.\.\/etc" is not a run name/);
    await refusedHere({ run: 'runs' }, /no run runs in the store/);
    await refusedHere({ format: 'csv' as 'alpaca' }, /--format must be one of alpaca, messages, sharegpt; got csv/);
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    await refusedHere({ out: file }, /exists and is not an empty folder/);
    expect(readdirSync(base).sort()).toEqual(['a-file', 'out']);
  });
});
