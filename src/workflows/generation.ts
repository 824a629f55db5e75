/**
 * One generation stage inside a workflow: the requests cut into shards of engine.shardSize rows, fanned out
 * over all model slots, then joined in order on the CPU queue. Shared by the iterations' stages and the run's
 * baseline evaluation. Deterministic workflow code: it only schedules activities.
 */
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import { generationBackend, type Endpoint, type RunConfig, type Sampling } from '../config/schema.js';
import type { activitiesFor } from './activities.js';
import type { IterationCard } from './types.js';

export type Generate = (
  stage: string,
  model: ModelRef,
  requests: ArtifactRef,
  output: string,
  sampling: Sampling,
  seed: number,
  endpoint?: Endpoint,
  options?: GenerateOptions,
) => Promise<ArtifactRef>;

/** What only some stages ask for: stop sequences (HumanEval continuations), the first token's top log-probabilities
 * (AlpacaEval's judge). Absent keys are left out of the activity input, so earlier stages schedule the same input. */
export interface GenerateOptions {
  stop?: string[];
  topLogprobs?: number;
}

export interface GeneratorOptions {
  config: RunConfig;
  activities: ReturnType<typeof activitiesFor>;
  /** Resolves when the run is not paused: a paused run starts no new model job. */
  unpaused: () => Promise<void>;
  /** Shards of the running stage, for the progress query. */
  shards: { done: number; total: number };
  /** Where each stage's throughput is recorded. */
  generation: IterationCard['generation'];
  /** Which model's work this is ("iteration 2", "baseline"), for the jobs' summaries in the Web UI. */
  label?: string;
}

export function shardedGenerator(opts: GeneratorOptions): Generate {
  const { config, unpaused, generation } = opts;
  const { data, modelJobs } = opts.activities;
  return async (stage, model, requests, output, sampling, seed, endpoint, options = {}) => {
    await unpaused();
    const shards =
      requests.rows > config.engine.shardSize
        ? await data.splitJsonl({ source: requests, shardSize: config.engine.shardSize, prefix: `${output}.shards/` })
        : [requests];
    opts.shards.done = 0;
    opts.shards.total = shards.length;
    const results = await Promise.all(
      shards.map(async (shard, i) => {
        await unpaused();
        const summary = [stage, shards.length > 1 ? `shard ${i + 1}/${shards.length}` : null, opts.label ?? null].filter(Boolean).join(' · ');
        const jobs = opts.activities.labelledModelJobs ? opts.activities.labelledModelJobs(summary) : modelJobs;
        const r = await jobs.generate({
          model,
          requests: shard,
          output: shards.length === 1 ? output : `${output}.shards/${String(i).padStart(4, '0')}.jsonl`,
          sampling,
          seed,
          batchSize: config.engine.batchSize,
          device: config.model.device,
          ...generationBackend(config),
          ...(endpoint ? { endpoint } : {}),
          ...(options.stop ? { stop: options.stop } : {}),
          ...(options.topLogprobs ? { topLogprobs: options.topLogprobs } : {}),
        });
        opts.shards.done++;
        return r;
      }),
    );
    const newTokens = results.reduce((a, r) => a + r.newTokens, 0);
    const seconds = results.reduce((a, r) => a + r.seconds, 0);
    generation.push({ stage, newTokens, tokensPerSecond: seconds > 0 ? newTokens / seconds : 0, seconds, shards: shards.length });
    if (shards.length === 1) return results[0]!.output;
    return data.concatJsonl({ parts: results.map((r) => r.output), output });
  };
}
