#!/usr/bin/env node
// A deterministic test double of the Python engine, for orchestration tests only (never a product default).
// It speaks the engine's protocol (`<job> --spec spec.json`, JSON lines on stdout) and answers each kind of
// prompt with text shaped like a model's: numbered instruction lists for meta-prompts, answers, and
// "<score>||<explanation>" judgments, all derived from a hash of the row id and the seed.
//
// `fake-engine serve` is the resident engine's form (as engine/isheep_engine/serve.py): generate jobs one at a time
// from stdin lines {"id","job","spec"}, events tagged "job_id"; it "loads" each model once (FAKE_ENGINE_LOADS_LOG=FILE
// gets a line "<pid> <model>" per load).
//
// FAKE_ENGINE_SLOW_MS=N sleeps N ms per generated row and per training step (to let tests act in the middle
// of a job).
//
// Like the real engine it dies with its parent (it polls process.ppid every 200 ms and exits when it changes,
// i.e. the worker that spawned it is gone; ISHEEP_ENGINE_NO_WATCHDOG=1 switches that off), and it resumes:
// generate skips the ids already in OUTPUT.partial; train writes a checkpoint WORK_DIR/step-N.json after each
// step (before that step's progress event) and a re-run of the same spec carries on after the highest one,
// saying so in {"event":"progress","stage":"training","resumed_from":"step-N"|null,...} and in a line
// "resumed from step N" appended to WORK_DIR/resumed.log. Outputs do not depend on where a job was interrupted.
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

if (!['1', 'true'].includes(process.env.ISHEEP_ENGINE_NO_WATCHDOG ?? '')) {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); // orphaned: stop at once, no cleanup
  }, 200).unref();
}

let jobId = null; // `serve`: the job the events are about
const emit = (event) => process.stdout.write(`${JSON.stringify(jobId === null ? event : { ...event, job_id: jobId })}\n`);
class Failure extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}
const fail = (kind, message) => {
  throw new Failure(kind, message);
};

let spec; // the job's spec, set before each job

const hash = (text) => createHash('sha256').update(text).digest();
const WORDS = (
  'river quantum budget poem recipe triangle history neuron carbon ledger violin glacier password orbit ' +
  'harvest theorem sonnet invoice compass protein volcano algorithm tariff lantern vaccine bridge mosaic ' +
  'satellite grammar fossil hurricane pension telescope enzyme marathon cipher dialect orchard magnet ' +
  'festival drought sculpture monsoon verdict pigment rhythm galaxy turbine kernel syllable canyon'
).split(' ');
const VERBS = ['Explain', 'Summarize', 'Compare', 'Describe', 'Classify', 'Rewrite', 'Evaluate', 'Outline', 'Critique', 'Translate'];

function instruction(seedText) {
  const h = hash(seedText);
  const words = Array.from({ length: 6 }, (_, i) => WORDS[h[i] % WORDS.length]);
  return `${VERBS[h[6] % VERBS.length]} how ${words[0]} relates to ${words[1]} and ${words[2]}, using ${words[3]} ${words[4]} as an example of ${words[5]}.`;
}

function reply(row, seed) {
  const text = row.prompt ?? row.messages?.at(-1)?.content ?? '';
  const h = hash(`${seed}:${row.id}`);
  if (row.messages?.at(-1)?.role === 'assistant') {
    // An assistant prefill: the answer continues it. An MT-Bench judge made to begin "Rating: [[" writes the number.
    const judge = row.messages.some((m) => m.content.includes('[[rating]]')); // in the user turn, or the system turn (turn 2)
    if (judge && text.endsWith('[[')) return `${1 + (h[0] % 10)}]]`;
    return ' and so on.';
  }
  if (/Instruction:\s*$/.test(text)) {
    const first = Number(/(\d+)\.\s*Instruction:\s*$/.exec(text)?.[1] ?? 6);
    const items = [];
    for (let k = 0; k < 4; k++) {
      const n = first + k;
      const label = k === 0 ? '' : `${n}. Instruction: `;
      const input = h[k] % 3 === 0 ? `Some ${WORDS[h[k + 8] % WORDS.length]} data.` : '<noinput>';
      items.push(`${label}${instruction(`${seed}:${row.id}:${k}`)}\n${n}. Input: ${input}`);
    }
    return items.join('\n\n') + `\n\n${first + 4}. Instruction: Cut off mid`;
  }
  if (text.includes('"model_identifier": "m"')) return alpacaVerdict(text, h); // an AlpacaEval judge
  if (/^Complete the following Python function/.test(text)) {
    // A chat model asked for a HumanEval function: code in a block, or (one time in three) a refusal.
    const name = /def (\w+)\(/.exec(text)?.[1] ?? 'f';
    return h[4] % 3 === 0 ? 'I am not able to write that.' : `Sure:\n\n\`\`\`python\ndef ${name}(x):\n    return x\n\`\`\``;
  }
  if (/^def \w+\(/.test(text)) return h[4] % 3 === 0 ? '    pass\n\ndef other():\n    return 1\n' : '    return x\n\nprint(1)\n'; // a continuation
  if (text.includes('[[rating]]')) return `The answer is ${h[3] % 2 ? 'helpful' : 'thin'}. Rating: [[${1 + (h[0] % 10)}]]`; // an MT-Bench judge
  if (text.includes('||')) {
    const r = h[0] % 10;
    if (r === 0) return 'I think this answer is fine.';
    return `${r < 3 ? 6 : 9}||The answer is ${r < 3 ? 'vague' : 'clear and correct'}.`;
  }
  return `Here is a careful answer about ${WORDS[h[1] % WORDS.length]}: it depends on ${WORDS[h[2] % WORDS.length]}.`;
}

/**
 * A length-biased pairwise judge, as weak judges are: it names the longer of the two outputs ("m" for output_1,
 * "M" for output_2), so its verdicts agree across the two orders; one pair in five gets a reply that is no verdict.
 */
function alpacaVerdict(text, h) {
  const outputs = [...text.matchAll(/"output": """([\s\S]*?)"""/g)].map((m) => m[1]);
  if (h[5] % 5 === 0) return h[6] % 2 ? 'The best model is M.' : '';
  return (outputs[0]?.length ?? 0) >= (outputs[1]?.length ?? 0) ? 'm' : 'M';
}

/** top_logprobs: a verdict "m"/"M" at probability 0.8 against the other letter's 0.2; any other text's first word alone. */
function firstTokenLogprobs(text) {
  if (text === 'm' || text === 'M') return [{ token: text, logprob: Math.log(0.8) }, { token: text === 'm' ? 'M' : 'm', logprob: Math.log(0.2) }, { token: 'The', logprob: Math.log(0.01) }];
  return [{ token: text.split(' ')[0] ?? '', logprob: -0.1 }];
}

const sleepMs = Number(process.env.FAKE_ENGINE_SLOW_MS ?? 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function generate() {
  if (!existsSync(spec.input)) fail('bad_input', `input file ${spec.input} does not exist`);
  const rows = readFileSync(spec.input, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const partial = `${spec.output}.partial`;
  const done = new Map();
  if (existsSync(partial)) {
    const text = readFileSync(partial, 'utf8');
    const end = text.lastIndexOf('\n') + 1; // a torn last line (killed mid-write) is cut off
    if (end < text.length) truncateSync(partial, Buffer.byteLength(text.slice(0, end)));
    for (const line of text.slice(0, end).split('\n').filter(Boolean)) {
      const r = JSON.parse(line);
      done.set(r.id, r);
    }
  }
  // As the real engine: a resident one (serve) loads a model once; FAKE_ENGINE_LOADS_LOG gets a line per load.
  if (!loaded.has(spec.model)) {
    loaded.add(spec.model);
    emit({ event: 'progress', stage: 'loading' });
    if (process.env.FAKE_ENGINE_LOADS_LOG) appendFileSync(process.env.FAKE_ENGINE_LOADS_LOG, `${process.pid} ${spec.model}\n`);
  }
  let newTokens = 0;
  for (const [i, row] of rows.entries()) {
    if (!done.has(row.id)) {
      if (sleepMs) await sleep(sleepMs);
      const text = reply(row, spec.sampling.seed);
      const out = { id: row.id, text, prompt_tokens: 10, new_tokens: text.split(' ').length, finish_reason: 'stop' };
      if (spec.top_logprobs) out.top_logprobs = firstTokenLogprobs(text).slice(0, spec.top_logprobs);
      appendFileSync(partial, `${JSON.stringify(out)}\n`);
      done.set(row.id, out);
    }
    newTokens += done.get(row.id).new_tokens;
    emit({ event: 'progress', done: i + 1, total: rows.length, new_tokens: newTokens, elapsed_s: 0 });
  }
  writeAtomic(spec.output, rows.map((r) => `${JSON.stringify(done.get(r.id))}\n`).join(''));
  rmSync(partial, { force: true }); // as the real engine: a finished output leaves no partial behind
  emit({ event: 'result', output: spec.output, rows: rows.length, new_tokens: newTokens, tokens_per_s: 1000, elapsed_s: 0.1 });
}

/** The step checkpoints of an earlier run of this spec under workDir (those of another spec are removed). */
function lastCheckpoint(workDir, specHash) {
  let last = 0;
  if (!existsSync(workDir)) return last;
  for (const name of readdirSync(workDir)) {
    const m = /^step-(\d+)\.json$/.exec(name);
    if (!m) continue;
    let ckpt;
    try {
      ckpt = JSON.parse(readFileSync(join(workDir, name), 'utf8'));
    } catch {
      ckpt = null;
    }
    if (ckpt?.spec_sha256 === specHash && ckpt.step === Number(m[1])) last = Math.max(last, ckpt.step);
    else rmSync(join(workDir, name), { force: true });
  }
  return last;
}

async function train() {
  const rows = readFileSync(spec.data, 'utf8').split('\n').filter(Boolean);
  if (rows.length === 0) fail('bad_input', `no training rows in ${spec.data}`);
  const steps = spec.max_steps ?? Math.max(1, Math.ceil((rows.length * spec.epochs) / (spec.per_device_batch_size * spec.gradient_accumulation_steps)));
  const workDir = spec.work_dir ?? `${spec.output}.work`;
  const specHash = hash(JSON.stringify(spec)).toString('hex');
  emit({ event: 'progress', stage: 'loading' });
  const resumed = lastCheckpoint(workDir, specHash);
  if (resumed) appendFileSync(join(workDir, 'resumed.log'), `resumed from step ${resumed}\n`);
  emit({ event: 'progress', stage: 'training', train_samples: rows.length, val_samples: 0, resumed_from: resumed ? `step-${resumed}` : null });
  for (let s = resumed + 1; s <= steps; s++) {
    if (sleepMs) await sleep(sleepMs);
    const loss = 2 / s;
    writeAtomic(join(workDir, `step-${s}.json`), JSON.stringify({ step: s, loss, spec_sha256: specHash }));
    emit({ event: 'progress', step: s, total_steps: steps, loss, lr: spec.learning_rate, epoch: s / steps });
  }
  writeAtomic(join(spec.output, 'config.json'), JSON.stringify({ fake: true, base_model: spec.base_model, data_sha256: hash(rows.join('\n')).toString('hex') }));
  emit({ event: 'result', output: spec.output, train_loss: 1.5, eval_loss: 1.7, steps, train_samples: rows.length, val_samples: 0, elapsed_s: 0.1 });
}

function importModel() {
  mkdirSync(spec.output, { recursive: true });
  writeFileSync(join(spec.output, 'config.json'), JSON.stringify({ fake: true, source: spec.source }));
  emit({ event: 'result', model_dir: spec.output, params: 0, reused: false });
}

/**
 * score-ifeval: a deterministic stand-in for lm-eval's checker. Each instruction passes when a hash of the
 * item id falls below the model's rate: FAKE_IFEVAL_CURVE="0.6,0.7,0.5" gives the base model 0.6, iteration 1
 * 0.7, iteration 2 0.5 (the model's label is the folder of the input: eval/<label>/); default 0.5 for all.
 */
function scoreIfeval() {
  const rows = readFileSync(spec.input, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const label = basename(dirname(spec.input));
  const curve = (process.env.FAKE_IFEVAL_CURVE ?? '').split(',').filter(Boolean).map(Number);
  const index = label === 'base' ? 0 : Number(/^iter-(\d+)$/.exec(label)?.[1] ?? 0);
  const rate = curve[Math.min(index, curve.length - 1)] ?? 0.5;
  const out = rows.map((row) => {
    const strict = row.instruction_id_list.map((_, i) => hash(`${row.id}:${i}`).readUInt32BE(0) / 2 ** 32 < rate);
    const loose = strict.map((ok, i) => ok || hash(`${row.id}:${i}:loose`)[0] % 4 === 0);
    return { id: row.id, prompt_strict: strict.every(Boolean), prompt_loose: loose.every(Boolean), instruction_strict: strict, instruction_loose: loose, instruction_id_list: row.instruction_id_list };
  });
  writeAtomic(spec.output, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
  emit({ event: 'result', items: out.length });
}

/** humaneval-problems: five small problems shaped like HumanEval's (the real 164 are the engine's). */
function humanevalProblems() {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: `HumanEval/${i}`, prompt: `def f${i}(x):\n    """Return x."""\n`, entry_point: `f${i}` }));
  writeAtomic(spec.output, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  emit({ event: 'result', problems: rows.length, output: spec.output });
}

/** run-humaneval without running anything: a completion passes when it returns x. */
function runHumaneval() {
  const rows = readFileSync(spec.input, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const out = rows.map((r) => (/\breturn x\b/.test(r.completion) ? { id: r.id, passed: true, result: 'passed' } : { id: r.id, passed: false, result: 'failed: AssertionError: ' }));
  writeAtomic(spec.output, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const passed = out.filter((r) => r.passed).length;
  emit({ event: 'result', passed, total: out.length, pass_at_1: passed / out.length, network: 'fake', output: spec.output });
}

/** run-lm-eval: each task asked for gets an accuracy from a hash of the model folder and the task, with a stderr. */
function runLmEval() {
  const tasks = {};
  for (const task of spec.tasks) {
    const acc = hash(`${spec.model}:${task}`).readUInt16BE(0) / 65535;
    const n = spec.limit ?? 100;
    tasks[task] = { alias: task, output_type: 'multiple_choice', metrics: { 'acc,none': acc, 'acc_stderr,none': Math.sqrt((acc * (1 - acc)) / n) }, n_samples: { original: n, effective: n } };
  }
  writeAtomic(spec.samples, spec.tasks.map((task) => `${JSON.stringify({ task, doc_id: 0, metrics: { acc: 1 } })}\n`).join(''));
  writeAtomic(spec.output, JSON.stringify({ lm_eval_version: '0.4.13', model: spec.model, tasks, groups: {}, config: {}, samples: spec.samples }));
  emit({ event: 'result', tasks: Object.fromEntries(Object.entries(tasks).map(([t, v]) => [t, v.metrics])), output: spec.output });
}

const loaded = new Set();
const JOBS = { generate, 'run-lm-eval': runLmEval, 'humaneval-problems': humanevalProblems, 'run-humaneval': runHumaneval, 'score-ifeval': scoreIfeval, train, 'import-model': importModel };

/** Runs one job; a failure becomes its error event. Returns the exit code a one-job process ends with. */
async function runJob(job, specPath) {
  try {
    if (!(job in JOBS)) fail('bad_input', `unknown job ${job}`);
    spec = JSON.parse(readFileSync(specPath, 'utf8'));
    await JOBS[job]();
    return 0;
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    emit({ event: 'error', kind: err.kind, message: err.message });
    return err.kind === 'bad_input' ? 2 : 1;
  }
}

const [job, flag, specPath] = process.argv.slice(2);
if (job === 'serve') {
  // As engine/isheep_engine/serve.py: generate jobs one at a time from stdin lines {"id","job","spec"}.
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    jobId = req.id;
    if (req.job !== 'generate') emit({ event: 'error', kind: 'bad_input', message: `job ${req.job} is not served here` });
    else await runJob(req.job, req.spec);
    jobId = null;
  }
} else if (flag !== '--spec' || !specPath) {
  emit({ event: 'error', kind: 'bad_input', message: 'usage: fake-engine <job> --spec spec.json' });
  process.exit(2);
} else {
  process.exitCode = await runJob(job, specPath);
}
