/**
 * Model activities: they run on a model slot's worker (task queue isheep-gpu, one job at a time) and call the
 * engine. Each is a few lines: build the engine spec from refs, run the job, return refs.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { contentDigest } from '../artifacts/digest.js';
import { ErrorType } from '../errors.js';
import { checkEndpoint, type EndpointPolicy } from './endpoint-policy.js';
import type { Endpoint, GenerationBackend, Sampling } from '../config/schema.js';
import { visibleGpus } from '../engine/devices.js';
import type { Engine } from '../engine/runner.js';
import type { ArtifactRef, ModelRef, Store } from '../artifacts/store.js';
import { RESPONSE_SYSTEM_PROMPT } from '../stages/responses.js';
import { runEngineJob } from './engine-job.js';
import { createLmEvalActivities } from './lm-eval.js';
import { createSlotActivities } from './slot.js';
import { withTypedFailures } from './typed-failures.js';

export interface ModelSlot {
  /** Devices of this slot, e.g. CUDA_VISIBLE_DEVICES=0,1; empty for a CPU slot. */
  env: Record<string, string>;
}

export interface GenerateInput {
  model: ModelRef;
  requests: ArtifactRef;
  /** Store uri of the output JSONL. */
  output: string;
  sampling: Sampling;
  seed: number;
  batchSize: number;
  device: string;
  /** Generate through an OpenAI-compatible server instead of loading `model`. */
  endpoint?: Endpoint;
  /** Local backend (absent in inputs scheduled before it existed: "auto"). */
  backend?: GenerationBackend['backend'];
  vllm?: GenerationBackend['vllm'];
  /** Stop sequences (a continuation ends at the first); absent: none. */
  stop?: string[];
  /** Also return each row's N most likely first tokens with their log-probabilities (top_logprobs). */
  topLogprobs?: number;
}

export interface GenerateResult {
  output: ArtifactRef;
  newTokens: number;
  tokensPerSecond: number;
  seconds: number;
}

export interface TrainInput {
  baseModel: ModelRef;
  data: ArtifactRef;
  /** Store uri of the merged model folder. */
  output: string;
  label: string;
  device: string;
  seed: number;
  /** Checkpoint every this many optimizer steps (null: each epoch), so a retried job resumes. */
  saveSteps?: number | null;
  training: {
    method: 'lora' | 'full';
    loraRank: number;
    loraAlpha: number;
    loraDropout: number;
    learningRate: number;
    warmupSteps: number;
    epochs: number;
    cutoffLen: number;
    perDeviceBatchSize: number;
    gradientAccumulationSteps: number;
    maxSamples: number;
    valFraction: number;
    maxSteps: number | null;
  };
}

export interface TrainResult {
  model: ModelRef;
  trainLoss: number;
  evalLoss: number | null;
  steps: number;
  trainSamples: number;
  valSamples: number;
  seconds: number;
}


/** The engine spec of an import-model job (engine/schemas/import-model.schema.json): `source` into the store at `uri`. */
export function importSpec(store: Store, source: string, uri: string) {
  return { source, output: store.path(uri) };
}

/** The engine spec of a generate job (engine/schemas/generate.schema.json). */
export function generateSpec(store: Store, input: GenerateInput) {
  const backend = input.endpoint
    ? {
        backend: 'openai',
        endpoint: {
          base_url: input.endpoint.baseUrl,
          model: input.endpoint.model,
          api_key_env: input.endpoint.apiKeyEnv,
          concurrency: input.endpoint.concurrency,
          timeout_s: input.endpoint.timeoutSeconds,
          max_retries: input.endpoint.maxRetries,
        },
      }
    : {
        backend: input.backend ?? 'auto',
        model: store.path(input.model.uri),
        ...(input.vllm
          ? {
              vllm: {
                gpu_memory_utilization: input.vllm.gpuMemoryUtilization,
                max_model_len: input.vllm.maxModelLen,
                enforce_eager: input.vllm.enforceEager,
              },
            }
          : {}),
      };
  return {
    ...backend,
    input: store.path(input.requests.uri),
    output: store.path(input.output),
    sampling: {
      temperature: input.sampling.temperature,
      top_p: input.sampling.topP,
      max_new_tokens: input.sampling.maxNewTokens,
      seed: input.seed,
    },
    batch_size: input.batchSize,
    device: input.device,
    system_prompt: RESPONSE_SYSTEM_PROMPT,
    // Only when given: a spec without it keeps the fingerprint of jobs scheduled before stop sequences existed.
    ...(input.stop ? { stop: input.stop } : {}),
    ...(input.topLogprobs ? { top_logprobs: input.topLogprobs } : {}),
  };
}

/** The engine spec of a train job (engine/schemas/train.schema.json). */
export function trainSpec(store: Store, input: TrainInput) {
  const t = input.training;
  return {
    base_model: store.path(input.baseModel.uri),
    data: store.path(input.data.uri),
    output: store.path(input.output),
    work_dir: store.path(`${input.output}.work`),
    method: t.method,
    lora: { r: t.loraRank, alpha: t.loraAlpha, dropout: t.loraDropout, target_modules: 'all-linear' },
    learning_rate: t.learningRate,
    lr_scheduler: 'cosine',
    warmup_steps: t.warmupSteps,
    epochs: t.epochs,
    cutoff_len: t.cutoffLen,
    per_device_batch_size: t.perDeviceBatchSize,
    gradient_accumulation_steps: t.gradientAccumulationSteps,
    max_samples: t.maxSamples,
    val_fraction: t.valFraction,
    seed: input.seed,
    max_steps: t.maxSteps,
    save_steps: input.saveSteps ?? null,
    system_prompt: RESPONSE_SYSTEM_PROMPT,
    device: input.device,
    precision: 'auto',
  };
}

export function createModelActivities(store: Store, engine: Engine, slot: ModelSlot, endpoints: EndpointPolicy = { keys: [], hosts: [] }) {
  return withTypedFailures({
    ...createLmEvalActivities(store, engine, slot.env),
    ...createSlotActivities(slot.env),

    /**
     * Imports the base model once into the store as an ordinary model folder (a GGUF is converted). A local
     * folder or file is keyed by its content too, so a changed one is imported again rather than reused stale.
     */
    async prepareModel(input: { source: string }): Promise<ModelRef> {
      const local = !input.source.startsWith('package:') && existsSync(input.source);
      const content = local
        ? await contentDigest(input.source, { cacheFile: store.path('models/.content-digests.json'), onProgress: () => Context.current().heartbeat() })
        : null;
      const key = createHash('sha256')
        .update(content ? `${input.source}\0${content}` : input.source)
        .digest('hex')
        .slice(0, 12);
      const slug = basename(input.source).replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 48);
      const uri = `models/${slug}-${key}`;
      await runEngineJob(engine, 'import-model', importSpec(store, input.source, uri), store.path(`${uri}.spec.json`), slot.env);
      return { uri, label: input.source };
    },

    async generate(input: GenerateInput): Promise<GenerateResult> {
      if (input.endpoint) {
        const refused = checkEndpoint(input.endpoint, endpoints);
        if (refused) throw ApplicationFailure.create({ type: ErrorType.BadInput, message: refused, nonRetryable: true });
      }
      const spec = generateSpec(store, input);
      const result = await runEngineJob(engine, 'generate', spec, store.path(`${input.output}.spec.json`), slot.env);
      const output = await store.refOf(input.output);
      if (output.rows !== input.requests.rows) {
        throw new Error(`generate wrote ${output.rows} rows for ${input.requests.rows} requests (${input.output})`);
      }
      return {
        output,
        newTokens: Number(result.new_tokens ?? 0),
        tokensPerSecond: Number(result.tokens_per_s ?? 0),
        seconds: Number(result.elapsed_s ?? 0),
      };
    },

    /** LoRA (or full) SFT of a model on kept pairs, merged into a full model folder. */
    async train(input: TrainInput): Promise<TrainResult> {
      const spec = trainSpec(store, input);
      // A slot of several GPUs trains with one process per GPU (torchrun, DDP).
      const gpus = visibleGpus(slot.env);
      const r = await runEngineJob(engine, 'train', spec, store.path(`${input.output}.spec.json`), slot.env, gpus > 1 ? gpus : undefined);
      return {
        model: { uri: input.output, label: input.label },
        trainLoss: Number(r.train_loss),
        evalLoss: r.eval_loss === null || r.eval_loss === undefined ? null : Number(r.eval_loss),
        steps: Number(r.steps ?? 0),
        trainSamples: Number(r.train_samples ?? 0),
        valSamples: Number(r.val_samples ?? 0),
        seconds: Number(r.elapsed_s ?? 0),
      };
    },
  });
}

export type ModelActivities = ReturnType<typeof createModelActivities>;
