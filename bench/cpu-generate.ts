/**
 * Benchmark (issue 10): CPU generation on the demo model and the demo's own prompts, in one run, against its anchors:
 *
 *   1. plain transformers `generate` at several batch sizes (bench/cpu_generate.py; the best is the anchor);
 *   2. our engine's generate job at that batch size: once as a process of its own (how every job ran before the
 *      resident engine), then --runs times through a slot's resident engine (src/engine/resident.ts), the first of
 *      which loads the model and the rest of which find it loaded;
 *   3. llama.cpp (llama-cpp-python built from PyPI's source package, one sequence at a time) on the GGUF file the
 *      demo model is imported from, plus a greedy parity check against transformers on the first --parity rows.
 *
 *   npm run bench:cpu-generate                                 # responses: 32 seed instructions, demo sampling, 64 tokens
 *   npm run bench:cpu-generate -- --stage assessment           # the ICL grading prompts: prefill-heavy, greedy, 16 tokens
 *   npm run bench:cpu-generate -- --rows 32 --max-new-tokens 160 --batch-sizes 8,16,32 --runs 3 --no-llama
 *
 * It prints new tokens/s (medians of --runs) for each, the ratios against plain transformers at its best batch, and the
 * per-job overhead (job wall time − generation time) of a one-job process against a resident engine's warm jobs.
 * Run it on an idle machine: two torch processes on 2 cores slow each other several-fold. The machine's load average
 * is printed with the figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createModelActivities } from '../src/activities/model.js';
import { readSeedFile, resolveSeedFile, BUILTIN_SEEDS } from '../src/artifacts/seeds.js';
import { Store } from '../src/artifacts/store.js';
import { DEMO_MODEL, demoPreset } from '../src/config/presets.js';
import { ResidentEngine } from '../src/engine/resident.js';
import { SubprocessEngine, type EngineEvent } from '../src/engine/runner.js';
import { engineCommand, loadTools } from '../src/setup/tools.js';
import { buildAssessmentPrompt } from '../src/stages/assessment.js';
import { buildResponseRequest, RESPONSE_SYSTEM_PROMPT } from '../src/stages/responses.js';
import { BENCH_DIR, benchVenv } from './python.js';

const { values: args } = parseArgs({
  options: {
    stage: { type: 'string', default: 'responses' },
    rows: { type: 'string', default: '32' },
    'max-new-tokens': { type: 'string' },
    'batch-sizes': { type: 'string', default: '8,16,32' },
    runs: { type: 'string', default: '3' },
    parity: { type: 'string', default: '8' },
    'no-llama': { type: 'boolean', default: false },
  },
});
if (!['responses', 'assessment'].includes(args.stage)) throw new Error(`--stage takes responses or assessment, got ${args.stage}`);
const runs = Number(args.runs);
const nRows = Number(args.rows);
const demoSampling = args.stage === 'responses' ? demoPreset.response!.sampling! : demoPreset.assessment!.sampling!;
const sampling = { temperature: demoSampling.temperature!, topP: demoSampling.topP!, maxNewTokens: Number(args['max-new-tokens'] ?? (args.stage === 'responses' ? 64 : demoSampling.maxNewTokens)) };
const seed = 1;

const tools = loadTools();
const { command, env } = engineCommand(tools);
const store = new Store(join(tools.cache, 'bench-cpu-generate-store'));
const work = join(store.root, 'work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** The demo's own request rows for the stage, built by the stage code from the built-in seeds. */
async function requestRows(modelDir: string): Promise<Record<string, unknown>[]> {
  const seeds = (await readSeedFile(resolveSeedFile(BUILTIN_SEEDS, join(BENCH_DIR, '..')))).slice(0, nRows);
  const responseRows = seeds.map((task) => {
    const req = buildResponseRequest(task, true);
    return req.kind === 'chat' ? { id: task.id, messages: req.messages } : { id: task.id, prompt: req.prompt };
  });
  if (args.stage === 'responses') return responseRows;
  // The grading pass as the demo runs it (the ICL variant, chat, the quality pass) over pairs whose responses the
  // model wrote first, at the demo's response sampling, as the responses stage does.
  const input = join(work, 'responses.requests.jsonl');
  writeFileSync(input, responseRows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const rs = demoPreset.response!.sampling!;
  const answered = join(work, 'responses.raw.jsonl');
  await new SubprocessEngine({ command, env, resident: false }).run('generate', {
    backend: 'transformers', model: modelDir, input, output: answered, device: 'cpu', batch_size: 32, system_prompt: RESPONSE_SYSTEM_PROMPT,
    sampling: { temperature: rs.temperature, top_p: rs.topP, max_new_tokens: rs.maxNewTokens, seed },
  }, { specPath: `${answered}.spec.json` });
  const texts = new Map(readFileSync(answered, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string }).map((r) => [r.id, r.text]));
  // With the system turn the engine puts first in a run (its system_prompt), written out so that every side renders
  // the same tokens.
  const system = { role: 'system', content: RESPONSE_SYSTEM_PROMPT };
  return seeds.map((task) => ({ id: task.id, messages: [system, { role: 'user', content: buildAssessmentPrompt('quality', 'icl', { ...task, response: texts.get(task.id) ?? '' }) }] }));
}

function python(exe: string, mode: string, extra: string[]): Record<string, unknown> {
  const out = join(work, `${mode}.json`);
  const r = spawnSync(exe, [join(BENCH_DIR, 'cpu_generate.py'), mode, '--out', out, ...extra], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', env: { ...process.env, TOKENIZERS_PARALLELISM: 'false', HF_HUB_OFFLINE: '1' } });
  if (r.status !== 0) throw new Error(`cpu_generate.py ${mode} failed:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
}

interface RunFigure {
  seconds: number;
  new_tokens: number;
}
const rate = (r: RunFigure) => r.new_tokens / r.seconds;

async function main() {
  const mock = new MockActivityEnvironment();
  const models = createModelActivities(store, new SubprocessEngine({ command, env, resident: false }), { env: { CUDA_VISIBLE_DEVICES: '' } });
  const model = (await mock.run(models.prepareModel, { source: DEMO_MODEL })) as Awaited<ReturnType<typeof models.prepareModel>>;
  const modelDir = store.path(model.uri);
  const imported = JSON.parse(readFileSync(join(modelDir, 'isheep-import.json'), 'utf8')) as { source_path: string };
  const rows = await requestRows(modelDir);
  const rowsFile = join(work, 'rows.jsonl');
  writeFileSync(rowsFile, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const common = ['--rows', rowsFile, '--runs', String(runs), '--max-new-tokens', String(sampling.maxNewTokens), '--temperature', String(sampling.temperature), '--top-p', String(sampling.topP), '--seed', String(seed)];
  console.log(`CPU generation, ${args.stage}: ${rows.length} rows of the demo (${DEMO_MODEL}), ≤ ${sampling.maxNewTokens} new tokens, temperature ${sampling.temperature}; ${runs} run(s) each; load average at start ${load()}`);

  // 1. Plain transformers.
  const raw = python(tools.python, 'transformers', [...common, '--model', modelDir, '--batch-sizes', args['batch-sizes']]) as { batches: Record<string, RunFigure[]> };
  const rawRates = Object.entries(raw.batches).map(([bs, rs]) => ({ bs: Number(bs), rate: median(rs.map(rate)), tokens: median(rs.map((r) => r.new_tokens)) }));
  const best = rawRates.reduce((a, b) => (b.rate > a.rate ? b : a));
  const loadAfterRaw = load();

  // 2. Our engine's job at the best batch size: a process of its own, then a resident engine's jobs.
  const spec = (name: string) => ({
    backend: 'transformers', model: modelDir, input: rowsFile, output: join(work, `${name}.jsonl`), device: 'cpu', batch_size: best.bs,
    sampling: { temperature: sampling.temperature, top_p: sampling.topP, max_new_tokens: sampling.maxNewTokens, seed },
  });
  const job = async (engine: SubprocessEngine | ResidentEngine, name: string) => {
    const t0 = performance.now();
    const r: EngineEvent = await engine.run('generate', spec(name), { specPath: join(work, `${name}.spec.json`) });
    const wall = (performance.now() - t0) / 1000;
    const tokens = Number(r.new_tokens);
    const genS = tokens / Number(r.tokens_per_s);
    return { wall, tokens, genRate: Number(r.tokens_per_s), wallRate: tokens / wall, overhead: wall - genS };
  };
  const oneShot = await job(new SubprocessEngine({ command, env, resident: false }), 'one-shot');
  const resident = new ResidentEngine({ command, env });
  const first = await job(resident, 'resident-0');
  const warm = [];
  for (let i = 1; i <= runs; i++) warm.push(await job(resident, `resident-${i}`));
  await resident.close();
  const loadAfterEngine = load();

  // 3. llama.cpp.
  let llamaRate: number | null = null;
  let parity: string | null = null;
  if (!args['no-llama']) {
    const llamaPy = benchVenv('requirements-llama.txt', 'llama_cpp');
    const ll = python(llamaPy, 'llama', [...common, '--gguf', imported.source_path]) as { runs: RunFigure[] };
    llamaRate = median(ll.runs.map(rate));
    const parityRows = join(work, 'parity.jsonl');
    writeFileSync(parityRows, rows.slice(0, Number(args.parity)).map((r) => `${JSON.stringify(r)}\n`).join(''));
    const pArgs = ['--rows', parityRows, '--max-new-tokens', '32'];
    const a = (python(tools.python, 'parity-transformers', [...pArgs, '--model', modelDir]) as { rows: { text: string }[] }).rows;
    const b = (python(llamaPy, 'parity-llama', [...pArgs, '--gguf', imported.source_path]) as { rows: { text: string }[] }).rows;
    const same = a.filter((x, i) => x.text.trim() === b[i]!.text.trim()).length;
    const prefix = a.map((x, i) => {
      const [p, q] = [x.text.split(/\s+/), b[i]!.text.split(/\s+/)];
      let k = 0;
      while (k < p.length && p[k] === q[k]) k++;
      return k / Math.max(1, p.length);
    });
    parity = `${same}/${a.length} identical greedy continuations (32 tokens); on average the first ${Math.round(100 * median(prefix))}% (median) of the words agree`;
  }

  const w = median(warm.map((x) => x.wallRate));
  const g = median(warm.map((x) => x.genRate));
  console.log('\nnew tokens/s (median):');
  for (const r of rawRates) console.log(`  transformers generate, batch ${String(r.bs).padStart(3)}:  ${r.rate.toFixed(1).padStart(6)}   (${r.tokens} new tokens)${r === best ? '   ← best: the anchor' : ''}`);
  console.log(`  our engine, one-job process:  ${oneShot.wallRate.toFixed(1).padStart(6)} wall, ${oneShot.genRate.toFixed(1)} generating   (batch ${best.bs})`);
  console.log(`  our engine, resident, warm:   ${w.toFixed(1).padStart(6)} wall, ${g.toFixed(1)} generating   (${runs} jobs after the first)`);
  if (llamaRate !== null) console.log(`  llama.cpp, one sequence:      ${llamaRate.toFixed(1).padStart(6)}`);
  console.log('\nratios against transformers at batch', best.bs);
  console.log(`  engine (resident, warm, wall) / transformers: ${(w / best.rate).toFixed(2)}×`);
  console.log(`  engine (one-job process, wall) / transformers: ${(oneShot.wallRate / best.rate).toFixed(2)}×`);
  if (llamaRate !== null) console.log(`  llama.cpp / transformers: ${(llamaRate / best.rate).toFixed(2)}×`);
  console.log('\nper-job overhead (job wall − generation):');
  console.log(`  one-job process: ${oneShot.overhead.toFixed(1)} s;  resident, first job: ${first.overhead.toFixed(1)} s;  resident, later jobs: ${median(warm.map((x) => x.overhead)).toFixed(2)} s (median of ${warm.length})`);
  if (parity) console.log(`\nllama.cpp vs transformers, greedy: ${parity}`);
  console.log(`\nload average: start → after transformers ${loadAfterRaw} → after the engine ${loadAfterEngine} → end ${load()}`);
}

await main();
