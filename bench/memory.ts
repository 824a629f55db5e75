/**
 * Memory of the data worker on a large stage: peak RSS of one process while the data activities deduplicate
 * 100,000 synthesized instructions (acceptInstructions: parse, prompt filters, ROUGE-L against everything
 * accepted so far), join and rule-filter 100,000 answers (filterResponses), and select 100,000 judged pairs
 * (selectPairs). Anchor: 500 MB (issue 7), whatever the stage's size.
 *
 *   npm run bench:memory                 # 100,000 rows; --rows N, --runs N (3), --stages filterResponses,selectPairs
 *
 * Each stage runs in a fresh child process (`--child STAGE STORE`) that reports its peak RSS
 * (process.resourceUsage().maxRSS); an "idle" child that only loads the same modules gives the floor.
 * The data is generated deterministically into a temporary store first (bench/data.ts instructions, ~120-word
 * answers, judgments with scores 1-10).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataActivities } from '../src/activities/data.js';
import { Store, type ArtifactRef } from '../src/artifacts/store.js';
import { createRng } from '../src/stages/rng.js';
import { generateInstructions } from './data.js';

const ANCHOR_MB = 500;
const TASKS_PER_ROW = 20;
const STAGES = ['idle', 'acceptInstructions', 'filterResponses', 'selectPairs'] as const;
type Stage = (typeof STAGES)[number];

interface Refs {
  seeds: ArtifactRef;
  raw: ArtifactRef;
  tasks: ArtifactRef;
  responses: ArtifactRef;
  pairs: ArtifactRef;
  quality: ArtifactRef;
  following: ArtifactRef;
}

const WORDS = 'the a model answer explains each step clearly with an example then checks the result and gives a short summary of why it works in practice for most readers today'.split(' ');

async function generate(store: Store, rows: number): Promise<Refs> {
  const rng = createRng(7);
  const instructions = generateInstructions(rows);
  const text = (n: number) => Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]).join(' ');
  const seeds = await store.writeJsonl('bench/seeds.jsonl', [{ id: 'seed-1', instruction: 'Name three rivers in Africa.', input: '' }]);
  async function* raw() {
    for (let r = 0; r * TASKS_PER_ROW < rows; r++) {
      const items = instructions.slice(r * TASKS_PER_ROW, (r + 1) * TASKS_PER_ROW);
      const body = items.map((ins, k) => `${k + 2}. Instruction: ${ins}\n${k + 2}. Input: <noinput>`).join('\n');
      yield { id: `r${r}`, text: ` ${body.slice(`${2}. Instruction: `.length)}\n${items.length + 2}. Instruction: cut off`, finish_reason: 'length' };
    }
  }
  const ids = instructions.map((_, i) => `t${i}`);
  const tasks = await store.writeJsonl('bench/tasks.jsonl', ids.map((id, i) => ({ id, instruction: instructions[i], input: '' })));
  const responses = await store.writeJsonl('bench/responses.jsonl', ids.map((id) => ({ id, text: text(120) })));
  const pairs = await store.writeJsonl('bench/pairs.jsonl', ids.map((id, i) => ({ id, instruction: instructions[i], input: '', response: text(120) })));
  const judgment = () => `${1 + rng.int(10)}||${text(12)}`;
  const quality = await store.writeJsonl('bench/quality.jsonl', ids.map((id) => ({ id, text: judgment() })));
  const following = await store.writeJsonl('bench/following.jsonl', ids.map((id) => ({ id, text: judgment() })));
  return { seeds, raw: await store.writeJsonl('bench/raw.jsonl', raw()), tasks, responses, pairs, quality, following };
}

async function child(stage: Stage, root: string, refs: Refs, rows: number) {
  const data = createDataActivities(new Store(root));
  const started = performance.now();
  let out: unknown = null;
  if (stage === 'acceptInstructions') {
    const r = await data.acceptInstructions({
      run: 'runs/bench', iteration: 1, round: 0, seeds: refs.seeds, accepted: null, raw: refs.raw, firstNumber: 2, limit: rows,
      filters: { minWords: 3, maxWords: 150, rougeThreshold: 0.7 },
    });
    out = { accepted: r.counts.accepted, near_duplicate: r.counts.dropped.near_duplicate };
  } else if (stage === 'filterResponses') {
    const r = await data.filterResponses({ run: 'runs/bench', iteration: 1, tasks: refs.tasks, responses: refs.responses, rules: ['empty_response', 'asks_user_back'] });
    out = { in: r.counts.in, kept: r.counts.kept };
  } else if (stage === 'selectPairs') {
    const r = await data.selectPairs({ run: 'runs/bench', iteration: 1, pairs: refs.pairs, quality: refs.quality, following: refs.following, level: 'both', threshold: 8 });
    out = { in: r.counts.in, kept: r.counts.kept };
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ stage, seconds, peakMb: process.resourceUsage().maxRSS / 1024, out }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const [, stage, root, refsJson, rows] = args;
    await child(stage as Stage, root!, JSON.parse(refsJson!) as Refs, Number(rows));
    return;
  }
  const rows = Number(args[args.indexOf('--rows') + 1] ?? 0) || 100_000;
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 3;
  const only = args.includes('--stages') ? args[args.indexOf('--stages') + 1]!.split(',') : null;
  const root = mkdtempSync(join(tmpdir(), 'isheep-bench-memory-'));
  try {
    const store = new Store(root);
    const t0 = performance.now();
    const refs = await generate(store, rows);
    const mb = (ref: ArtifactRef) => (statSync(store.path(ref.uri)).size / 2 ** 20).toFixed(0);
    console.log(`data: ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s (answers ${mb(refs.responses)} MB, pairs ${mb(refs.pairs)} MB, synthesis output ${mb(refs.raw)} MB)`);
    const self = fileURLToPath(import.meta.url);
    const tsx = join(fileURLToPath(new URL('..', import.meta.url)), 'node_modules', '.bin', 'tsx');
    console.log(`\nstage                rows      median s   peak RSS (median of ${runs})   vs ${ANCHOR_MB} MB anchor`);
    let worst = 0;
    for (const stage of STAGES.filter((s) => s === 'idle' || !only || only.includes(s))) {
      const results: { seconds: number; peakMb: number; out: unknown }[] = [];
      for (let i = 0; i < runs; i++) {
        const r = spawnSync(tsx, [self, '--child', stage, root, JSON.stringify(refs), String(rows)], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status !== 0) throw new Error(`${stage} failed:\n${r.stderr}`);
        results.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
      }
      const peak = median(results.map((r) => r.peakMb));
      if (stage !== 'idle') worst = Math.max(worst, peak);
      console.log(
        `${stage.padEnd(20)} ${String(stage === 'idle' ? '-' : rows).padEnd(9)} ${median(results.map((r) => r.seconds)).toFixed(1).padStart(8)}   ${peak.toFixed(0).padStart(6)} MB                  ${(peak / ANCHOR_MB).toFixed(2)}x  ${results[0]!.out ? JSON.stringify(results[0]!.out) : ''}`,
      );
    }
    console.log(`\nworst stage: ${worst.toFixed(0)} MB peak RSS = ${(worst / ANCHOR_MB).toFixed(2)} of the ${ANCHOR_MB} MB anchor (${worst < ANCHOR_MB ? 'met' : 'NOT met'})`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
