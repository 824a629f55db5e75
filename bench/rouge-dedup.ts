/**
 * Benchmark (issue 3): greedy ROUGE-L near-duplicate removal of 10,000 instructions with our DedupIndex, against
 * Google's `rouge-score` doing the same all-pairs work in Python, as self-instruct / Alpaca / I-SHEEP do.
 *
 *   npx tsx bench/rouge-dedup.ts [--n 10000] [--prefix 2000] [--full] [--runs 5] [--seed S]
 *                                [--style alpaca|self-instruct] [--parallel none|pool|sharded] [--workers W]
 *                                [--pairs 200] [--no-python]
 *
 * Both sides take the instructions in order and keep one when its ROUGE-L F1 (rouge-score's tokens, no stemmer)
 * with every instruction kept so far is <= 0.7, i.e. drop it when some kept one scores > 0.7. Ours runs on all N
 * (median of --runs) and on the first --prefix (Python's all-pairs work grows with the square of N: on 2 cores
 * all 10,000 take tens of minutes); Python runs once on the prefix, or on all N with --full. The kept sets must be
 * IDENTICAL, and our precision, recall and F1 must equal rouge-score's bit for bit on --pairs generated pairs;
 * otherwise the first differences are printed and the exit status is 1. Target: >= 20x faster.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { filterInstructions } from '../src/stages/prompt-filters.js';
import { DedupIndex, NEAR_DUPLICATE_THRESHOLD, rougeL, rougeTokens } from '../src/stages/rouge.js';
import { DEFAULT_SEED, generateInstructions, generatePairs, writeInstructionsJsonl } from './data.js';
import { BENCH_DIR, benchPython, pythonDedup, rougeScoreReference, type PythonDedupOptions } from './python.js';

const TARGET_SPEEDUP = 20;
const ROOT = join(BENCH_DIR, '..');

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    prefix: { type: 'string', default: '2000' },
    full: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    style: { type: 'string', default: 'alpaca' },
    parallel: { type: 'string', default: 'sharded' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    pairs: { type: 'string', default: '200' },
    'no-python': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log('usage: npx tsx bench/rouge-dedup.ts [--n 10000] [--prefix 2000] [--full] [--runs 5] [--seed S]\n' +
    '         [--style alpaca|self-instruct] [--parallel none|pool|sharded] [--workers W] [--pairs 200] [--no-python]');
  process.exit(0);
}

const N = positiveInt('n', args.n);
const RUNS = positiveInt('runs', args.runs);
const SEED = positiveInt('seed', args.seed);
const PAIRS = Number(args.pairs);
const PREFIX = args.full ? N : Math.min(N, positiveInt('prefix', args.prefix));
const THRESHOLD = NEAR_DUPLICATE_THRESHOLD;
const style = oneOf('style', args.style, ['alpaca', 'self-instruct'] as const);
const parallel = oneOf('parallel', args.parallel, ['none', 'pool', 'sharded'] as const);
const workers = parallel === 'none' ? 1 : positiveInt('workers', args.workers);

const fmt = (x: number): string => x.toLocaleString('en-US');
const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)}%`;
const secs = (s: number): string => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(s < 100 ? 3 : 1)} s`);
let failed = false;

// --- data ---------------------------------------------------------------------------------------------------
const texts = generateInstructions(N, SEED);
const dataPath = join(ROOT, '.isheep', 'bench', `instructions-${SEED}-${N}.jsonl`);
writeInstructionsJsonl(dataPath, texts);

console.log(`ROUGE-L near-duplicate dedup: each instruction, in order, is dropped when its ROUGE-L F1 with some`);
console.log(`instruction kept before it is > ${THRESHOLD} (rouge-score tokens, no stemmer), else kept.`);
console.log(`machine ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), 1-minute load ${(loadavg()[0] ?? 0).toFixed(1)} at the start`);
console.log(`data   ${fmt(N)} generated instructions (seed ${SEED}) in ${relative(process.cwd(), dataPath)}`);

// --- our side -----------------------------------------------------------------------------------------------
/** Ids kept by the greedy rule, with a DedupIndex (exact ROUGE-L, pruned by bounds). */
function dedupWithIndex(items: readonly string[]): number[] {
  const index = new DedupIndex();
  const kept: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const text = items[i] as string;
    if (index.isNearDuplicate(text, THRESHOLD)) continue;
    kept.push(i);
    index.add(text);
  }
  return kept;
}

/** The same through the stage's filterInstructions, its other filters switched off (the data never trips them). */
function dedupWithFilter(items: readonly string[]): number[] {
  const candidates = items.map((instruction, id) => ({ instruction, id }));
  const { accepted, dropped } = filterInstructions(candidates, new DedupIndex(), {
    minWordsExclusive: 0,
    maxWords: Number.POSITIVE_INFINITY,
    blacklist: [],
    nearDuplicateThreshold: THRESHOLD,
  });
  const other = Object.entries(dropped).filter(([reason, count]) => count > 0 && reason !== 'near_duplicate' && reason !== 'exact_duplicate');
  if (other.length > 0) throw new Error(`the data tripped other filters: ${JSON.stringify(Object.fromEntries(other))}`);
  return accepted.map((candidate) => candidate.id);
}

interface Timing {
  /** Median wall time. */
  seconds: number;
  /** Median CPU time (user + system) of this process. */
  cpuSeconds: number;
  all: number[];
  kept: number[];
}

function timeMedian(fn: () => number[], runs: number): Timing {
  const all: number[] = [];
  const cpu: number[] = [];
  let kept: number[] = [];
  for (let r = 0; r < runs; r++) {
    const cpuStarted = process.cpuUsage();
    const started = performance.now();
    kept = fn();
    all.push((performance.now() - started) / 1000);
    const used = process.cpuUsage(cpuStarted);
    cpu.push((used.user + used.system) / 1e6);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { seconds: median(all), cpuSeconds: median(cpu), all, kept };
}

const prefixTexts = texts.slice(0, PREFIX);
const oursFull = timeMedian(() => dedupWithIndex(texts), RUNS);
const oursPrefix = PREFIX === N ? oursFull : timeMedian(() => dedupWithIndex(prefixTexts), RUNS);
const oursFilter = timeMedian(() => dedupWithFilter(texts), RUNS);

const keptInPrefix = oursFull.kept.filter((id) => id < PREFIX);
if (!sameIds(keptInPrefix, oursPrefix.kept)) fail('ours: the prefix run kept other ids than the full run on that prefix');
if (!sameIds(oursFilter.kept, oursFull.kept)) fail('ours: filterInstructions kept other ids than the bare DedupIndex');

const droppedFull = N - oursFull.kept.length;
const droppedPrefix = PREFIX - oursPrefix.kept.length;
console.log(`       near-duplicates (dropped): ${fmt(droppedFull)} of ${fmt(N)} (${pct(droppedFull, N)})` +
  (PREFIX < N ? `; ${fmt(droppedPrefix)} of the first ${fmt(PREFIX)} (${pct(droppedPrefix, PREFIX)})` : ''));

// --- ROUGE-L values against rouge-score -------------------------------------------------------------------
const python = args['no-python'] ? null : benchPython();
if (python !== null && PAIRS > 0) {
  const pairs = generatePairs(PAIRS, SEED + 1);
  const reference = rougeScoreReference(pairs, python);
  const mismatches: string[] = [];
  pairs.forEach(([target, prediction], i) => {
    const ours = rougeL(target, prediction);
    const indexF1 = new DedupIndex([target]).maxSimilarity(prediction);
    const [p, r, f] = reference[i] as [number, number, number];
    if (ours.precision !== p || ours.recall !== r || ours.fmeasure !== f || indexF1 !== f) {
      mismatches.push(
        `  pair ${i}: target ${JSON.stringify(target)}\n          prediction ${JSON.stringify(prediction)}\n` +
        `          ours P/R/F ${ours.precision}/${ours.recall}/${ours.fmeasure} (index F ${indexF1}), rouge-score ${p}/${r}/${f}\n` +
        `          our tokens ${JSON.stringify(rougeTokens(target))} / ${JSON.stringify(rougeTokens(prediction))}`,
      );
    }
  });
  if (mismatches.length === 0) {
    console.log(`check  ROUGE-L precision, recall and F1 equal rouge-score's bit for bit on ${pairs.length}/${pairs.length} pairs` +
      ' (rougeL and DedupIndex)');
  } else {
    fail(`ROUGE-L differs from rouge-score on ${mismatches.length} of ${pairs.length} pairs; the first ones:\n${mismatches.slice(0, 5).join('\n')}`);
  }
}

console.log(`\nours   DedupIndex, Node ${process.version}, one thread, median of ${RUNS} runs (wall; CPU):`);
console.log(`         all ${fmt(N).padStart(6)}: ${secs(oursFull.seconds).padStart(10)}; ${secs(oursFull.cpuSeconds)} CPU   kept ${fmt(oursFull.kept.length)}   runs ${oursFull.all.map((s) => s.toFixed(3)).join(' ')} s`);
if (PREFIX < N) {
  console.log(`       first ${fmt(PREFIX).padStart(6)}: ${secs(oursPrefix.seconds).padStart(10)}; ${secs(oursPrefix.cpuSeconds)} CPU   kept ${fmt(oursPrefix.kept.length)}   runs ${oursPrefix.all.map((s) => s.toFixed(4)).join(' ')} s`);
}
console.log(`       (through filterInstructions, all ${fmt(N)}: ${secs(oursFilter.seconds)}, same kept set)`);

// --- Python reference ---------------------------------------------------------------------------------------
if (python === null) {
  console.log('\npython skipped (--no-python)');
} else {
  const options: PythonDedupOptions = { input: dataPath, n: PREFIX, style, parallel, workers, threshold: THRESHOLD };
  const load = loadavg()[0] ?? 0;
  const how = `style ${style} (${style === 'alpaca' ? 'tokenize once, _score_lcs per pair' : 'scorer.score per pair on the raw strings'}), ` +
    (parallel === 'none' ? 'one process' : `${parallel === 'pool' ? 'Pool.map per candidate' : 'kept list sharded'} over ${workers} processes`);
  console.log(`\npython rouge-score 0.1.2, all pairs, ${how}, 1 run on the ${PREFIX === N ? 'whole set' : `first ${fmt(PREFIX)}`}...`);
  const ref = pythonDedup(options, python);
  const loadAfter = loadavg()[0] ?? 0;
  const identical = sameIds(ref.kept, oursPrefix.kept);
  const label = PREFIX === N ? `  all ${fmt(N).padStart(6)}` : `first ${fmt(PREFIX).padStart(6)}`;
  console.log(`       ${label}: ${secs(ref.seconds).padStart(10)}; ${secs(ref.cpu_seconds)} CPU   kept ${fmt(ref.kept.length)}   ` +
    `${fmt(ref.pairs)} F1 computations (${((ref.cpu_seconds / Math.max(1, ref.pairs)) * 1e6).toFixed(1)} µs CPU each), Python ${ref.python}`);
  if (Math.max(load, loadAfter) > cpus().length * 0.75) {
    console.log(`note   the machine was busy (1-minute load ${load.toFixed(1)} before, ${loadAfter.toFixed(1)} after, ${cpus().length} CPUs): wall times are inflated`);
  }
  if (identical) {
    console.log(`kept   IDENTICAL on the ${PREFIX === N ? `whole ${fmt(N)}` : `first ${fmt(PREFIX)}`}: ${fmt(ref.kept.length)} ids`);
  } else {
    reportDifferences(ref.kept, oursPrefix.kept);
  }
  const speedup = ref.seconds / oursPrefix.seconds;
  const cpuSpeedup = ref.cpu_seconds / oursPrefix.cpuSeconds;
  console.log(`\nspeed-up on the same ${fmt(PREFIX)} instructions: ${speedup.toFixed(0)}x wall ` +
    `(python ${secs(ref.seconds)} / ours ${secs(oursPrefix.seconds)}); target >= ${TARGET_SPEEDUP}x: ${speedup >= TARGET_SPEEDUP ? 'met' : 'NOT MET'}`);
  console.log(`       ${cpuSpeedup.toFixed(0)}x in CPU time (python ${secs(ref.cpu_seconds)} / ours ${secs(oursPrefix.cpuSeconds)}; steadier when the machine is busy)`);
  if (PREFIX < N) {
    // Python's cost is its F1 computations (sum over candidates of the kept count), known exactly from our run.
    const pairsFull = allPairsWork(oursFull.kept, N);
    const estimate = (ref.seconds * pairsFull) / ref.pairs;
    console.log(`       python on all ${fmt(N)} would do ${fmt(pairsFull)} F1 computations: about ${secs(estimate)} at the measured rate ` +
      `(an estimate, ${(estimate / oursFull.seconds).toFixed(0)}x ours; run with --full to measure it)`);
  }
}

if (failed) process.exit(1);

// --- helpers ------------------------------------------------------------------------------------------------
function allPairsWork(kept: readonly number[], n: number): number {
  let pairs = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    pairs += k;
    if (kept[k] === i) k++;
  }
  return pairs;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function reportDifferences(pythonKept: readonly number[], oursKept: readonly number[]): void {
  const py = new Set(pythonKept);
  const us = new Set(oursKept);
  const diff = [...new Set([...pythonKept, ...oursKept])].filter((id) => py.has(id) !== us.has(id)).sort((a, b) => a - b);
  const lines = diff.slice(0, 5).map((id) => {
    const text = texts[id] as string;
    // The best match among the ids kept before it (by our ROUGE-L), to show why the two sides decided apart.
    let best = -1;
    let bestF1 = 0;
    for (const other of oursKept) {
      if (other >= id) break;
      const f1 = rougeL(texts[other] as string, text).fmeasure;
      if (f1 > bestF1) [best, bestF1] = [other, f1];
    }
    return `  id ${id}: python ${py.has(id) ? 'kept' : 'dropped'}, ours ${us.has(id) ? 'kept' : 'dropped'}: ${JSON.stringify(text)}\n` +
      `          our best F1 ${bestF1} with id ${best}: ${JSON.stringify(texts[best] ?? '')}`;
  });
  fail(`kept sets DIFFER: python kept ${fmt(pythonKept.length)}, ours ${fmt(oursKept.length)}, ${diff.length} ids decided apart; the first:\n${lines.join('\n')}`);
}

function fail(message: string): void {
  failed = true;
  console.log(`FAILED ${message}`);
}

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer, got ${value}`);
    process.exit(2);
  }
  return n;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    console.error(`--${name} must be one of ${allowed.join(', ')}, got ${value}`);
    process.exit(2);
  }
  return value as T;
}
