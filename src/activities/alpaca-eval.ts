/**
 * AlpacaEval in a run, on the CPU queue: the model under test answers the instructions (generation is a model job
 * like any other), then each answer is compared with every baseline of the run — the reference outputs (2.0: GPT-4
 * Turbo, 1.0: text-davinci-003), the previous evaluated model and the base model — by the judge, each pair in both
 * orders (src/stages/alpaca-eval.ts says why). Per model (label) it leaves under runs/<name>/eval/<label>/:
 * alpacaeval.requests.jsonl, alpacaeval.raw.jsonl (the answers), alpacaeval.judge.requests.jsonl,
 * alpacaeval.judge.raw.jsonl (the verdicts) and alpacaeval.scores.jsonl (per item and baseline).
 */
import { textsById } from '../artifacts/text.js';
import type { ArtifactRef, Store } from '../artifacts/store.js';
import {
  buildPairwiseJudgeRequests,
  charLength,
  JUDGE_ORDERS,
  lengthControlledWinRate,
  verdictOf,
  winRate,
  type AlpacaEvalReference,
  type JudgedComparison,
  type JudgeOrder,
} from '../stages/alpaca-eval.js';
import { buildResponseRequest } from '../stages/responses.js';
import { meanWithInterval, type Estimate } from '../stages/stats.js';
import { readAlpacaEval } from './eval-data.js';
import { beat } from './typed-failures.js';

const evalDir = (run: string, label: string) => `${run}/eval/${label}`;
const itemId = (index: number) => `alpaca-${index}`;
const judgeId = (item: string, baseline: string, order: JudgeOrder) => `${item}|${baseline}|${order}`;
const rawOutputs = (run: string, label: string) => `${evalDir(run, label)}/alpacaeval.raw.jsonl`;

/** The model's answers compared with one baseline. Rates are P(model better) in [0, 1], draws counting half. */
export interface AlpacaEvalComparison {
  /** A reference (gpt4_1106_preview, text_davinci_003) or a model of the run (base, iter-1, ...). */
  baseline: string;
  /** AlpacaEval's win rate with a bootstrap interval over items; n = items with a usable verdict. */
  winRate: Estimate;
  /** The length-controlled win rate (AlpacaEval 2.0's GLM, 'minimal' formula), null where it cannot be fitted. */
  lcWinRate: number | null;
  wins: number;
  losses: number;
  draws: number;
  /** Items whose two outputs were the same text (a tie without a judge). */
  identical: number;
  /** Verdicts the judge gave that were neither "m" nor "M". */
  unparsable: number;
  /** Items without any usable verdict, left out of the rates. */
  dropped: number;
  /** Average output length in characters (AlpacaEval's avg_length). */
  avgLength: { model: number; baseline: number };
}

export interface AlpacaEvalSummary {
  suite: 'alpacaEval';
  label: string;
  items: number;
  /** Average length of the model's answers in characters. */
  avgLength: number;
  comparisons: AlpacaEvalComparison[];
}

export interface AlpacaEvalSubset {
  run: string;
  label: string;
  dir: string;
  limit: number | null;
  seed: number;
  references: AlpacaEvalReference[];
}

/** A judge's reply: its text, and its first token's top log-probabilities where the backend returned them. */
interface JudgeReply {
  text: string;
  top_logprobs?: { token: string; logprob: number }[];
}

export function createAlpacaEvalActivities(store: Store) {
  /** Each baseline's output per item id (references by instruction, run models from their raw answers). */
  async function baselineOutputs(input: AlpacaEvalSubset, baselines: string[]) {
    const data = await readAlpacaEval(input.dir, input.limit, input.seed, input.references);
    const byBaseline = new Map<string, Map<string, string>>();
    for (const baseline of baselines) {
      const reference = data.references[baseline as AlpacaEvalReference];
      if (reference) {
        const outputs = new Map<string, string>();
        for (const item of data.items) {
          const output = reference.get(item.instruction);
          if (output === undefined) throw new Error(`the ${baseline} reference has no output for instruction ${item.index}`);
          outputs.set(itemId(item.index), output);
        }
        byBaseline.set(baseline, outputs);
      } else {
        byBaseline.set(baseline, await textsById(store, await store.refOf(rawOutputs(input.run, baseline))));
      }
    }
    return { data, byBaseline };
  }

  return {
    /** The instructions (or their seeded subset) as requests for the model under test, as it answers any task. */
    async buildAlpacaEvalRequests(input: AlpacaEvalSubset & { chat: boolean }): Promise<ArtifactRef> {
      const { items } = await readAlpacaEval(input.dir, input.limit, input.seed, []);
      const rows = items.map((item) => {
        const req = buildResponseRequest({ instruction: item.instruction, input: '' }, input.chat);
        return req.kind === 'chat' ? { id: itemId(item.index), messages: req.messages } : { id: itemId(item.index), prompt: req.prompt };
      });
      return store.writeJsonl(`${evalDir(input.run, input.label)}/alpacaeval.requests.jsonl`, rows);
    },

    /**
     * The judge's requests: for each baseline and item, the pair in both orders (AlpacaEval 2.0's template).
     * Baselines: the references, then the previous evaluated model (the latest earlier label whose answers exist:
     * an iteration that trained nothing was not evaluated), then the base model when it is not that one.
     * `requests` is null when every pair is identical (nothing to judge).
     */
    async buildAlpacaEvalJudgeRequests(
      input: AlpacaEvalSubset & { outputs: ArtifactRef; againstPrevious: boolean; againstBase: boolean },
    ): Promise<{ requests: ArtifactRef | null; baselines: string[] }> {
      const models: string[] = [];
      const t = /^iter-(\d+)$/.exec(input.label);
      if (t) {
        const earlier = [...Array.from({ length: Number(t[1]) - 1 }, (_, i) => `iter-${Number(t[1]) - 1 - i}`), 'base'];
        const previous = earlier.find((label) => store.exists(rawOutputs(input.run, label)));
        if (input.againstPrevious && previous) models.push(previous);
        if (input.againstBase && previous !== 'base' && store.exists(rawOutputs(input.run, 'base'))) models.push('base');
      }
      const baselines = [...input.references, ...models];
      const { data, byBaseline } = await baselineOutputs(input, baselines);
      const answers = await textsById(store, input.outputs);
      const rows: { id: string; messages: { role: string; content: string }[] }[] = [];
      for (const baseline of baselines) {
        for (const item of data.items) {
          beat();
          const id = itemId(item.index);
          const modelOutput = answers.get(id);
          if (modelOutput === undefined) throw new Error(`no answer for ${id} in ${input.outputs.uri}`);
          const baselineOutput = byBaseline.get(baseline)!.get(id);
          if (baselineOutput === undefined) throw new Error(`${baseline} has no answer for ${id}`);
          if (modelOutput === baselineOutput) continue; // a tie: AlpacaEval does not ask the judge
          for (const request of buildPairwiseJudgeRequests(data.template, { instruction: item.instruction, modelOutput, baselineOutput })) {
            rows.push({ id: judgeId(id, baseline, request.order), messages: request.messages.map((m) => ({ role: m.role, content: m.content })) });
          }
        }
      }
      const requests = rows.length > 0 ? await store.writeJsonl(`${evalDir(input.run, input.label)}/alpacaeval.judge.requests.jsonl`, rows) : null;
      return { requests, baselines };
    },

    /** Verdicts into win rates per baseline, with intervals, lengths and the LC win rate; per item into alpacaeval.scores.jsonl. */
    async scoreAlpacaEval(input: AlpacaEvalSubset & { outputs: ArtifactRef; baselines: string[]; judgments: ArtifactRef | null }): Promise<AlpacaEvalSummary> {
      const { data, byBaseline } = await baselineOutputs(input, input.baselines);
      const answers = await textsById(store, input.outputs);
      const verdicts = new Map<string, JudgeReply>();
      if (input.judgments) for await (const row of store.readJsonl<JudgeReply & { id: string }>(input.judgments)) verdicts.set(row.id, row);
      const scores: Record<string, unknown>[] = [];
      const comparisons: AlpacaEvalComparison[] = [];
      for (const baseline of input.baselines) {
        const judged: JudgedComparison[] = [];
        for (const item of data.items) {
          const id = itemId(item.index);
          const modelOutput = answers.get(id)!;
          const baselineOutput = byBaseline.get(baseline)!.get(id)!;
          const [first, second] = JUDGE_ORDERS.map((order) => verdicts.get(judgeId(id, baseline, order)) ?? null);
          if (modelOutput !== baselineOutput && (first === null || second === null)) {
            throw new Error(`no verdict for ${id} against ${baseline} in ${input.judgments?.uri ?? '(no judgments)'}`);
          }
          const texts = { model_first: first?.text ?? null, model_second: second?.text ?? null };
          const comparison: JudgedComparison = {
            modelOutput,
            baselineOutput,
            modelFirst: first ? verdictOf(first) : null,
            modelSecond: second ? verdictOf(second) : null,
          };
          judged.push(comparison);
          scores.push({ id, baseline, ...comparison, judgments: texts, modelLength: charLength(modelOutput), baselineLength: charLength(baselineOutput) });
        }
        comparisons.push(compare(baseline, judged, input.seed));
      }
      await store.writeJsonl(`${evalDir(input.run, input.label)}/alpacaeval.scores.jsonl`, scores);
      const lengths = data.items.map((item) => charLength(answers.get(itemId(item.index)) ?? ''));
      return {
        suite: 'alpacaEval',
        label: input.label,
        items: data.items.length,
        avgLength: lengths.length ? Math.trunc(lengths.reduce((a, b) => a + b, 0) / lengths.length) : 0,
        comparisons,
      };
    },
  };
}

function compare(baseline: string, judged: JudgedComparison[], seed: number): AlpacaEvalComparison {
  const result = winRate(judged);
  let lcWinRate: number | null = null;
  try {
    // The GLM needs both outcomes among the items; on a handful of items it often has neither.
    const lc = lengthControlledWinRate(judged);
    lcWinRate = Number.isFinite(lc.lengthControlledWinRate) ? lc.lengthControlledWinRate / 100 : null;
  } catch {
    lcWinRate = null;
  }
  return {
    baseline,
    winRate: meanWithInterval(
      result.preferences.filter((p): p is number => p !== null),
      seed,
    ),
    lcWinRate,
    wins: result.nWins,
    losses: result.nLosses,
    draws: result.nDraws,
    identical: result.nIdentical,
    unparsable: result.unparsableVerdicts,
    dropped: result.droppedItems,
    avgLength: result.avgLength,
  };
}

export type AlpacaEvalActivities = ReturnType<typeof createAlpacaEvalActivities>;
