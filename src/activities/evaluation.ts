/**
 * Evaluation activities on the CPU queue: find the benchmark files, turn a suite into generation requests for
 * the model under test, and score its answers. Scoring that has a reference implementation in Python runs it as
 * an engine job on this CPU worker (IFEval: lm-eval's checker, `score-ifeval`); generation itself is a model job
 * like any other, sharded over the slots by the workflow.
 *
 * Per model (label "base", "iter-1", ...) each suite leaves under runs/<name>/eval/<label>/: <suite>.requests.jsonl,
 * <suite>.raw.jsonl (the generations), <suite>.scores.jsonl (per item) and the engine's spec beside its output.
 */
import { textsById } from '../artifacts/text.js';
import type { ArtifactRef, Store } from '../artifacts/store.js';
import type { Engine } from '../engine/runner.js';
import { buildResponseRequest } from '../stages/responses.js';
import { aggregateMtBench, buildJudgeRequest, mtBenchMessages, parseRating, UNPARSABLE_RATING, type MtBenchJudgment, type MtBenchSummary } from '../stages/mt-bench.js';
import { RESPONSE_SYSTEM_PROMPT } from '../stages/responses.js';
import { meanWithInterval, pairedDelta, proportion, type Estimate } from '../stages/stats.js';
import { createAlpacaEvalActivities } from './alpaca-eval.js';
import { runEngineJob } from './engine-job.js';
import { createHumanEvalActivities } from './humaneval.js';
import { readIfeval, readMtBench, resolveOrFetchEvalDir } from './eval-data.js';
import { beat, withTypedFailures } from './typed-failures.js';

export interface IfevalSummary {
  suite: 'ifeval';
  label: string;
  items: number;
  instructions: number;
  promptStrict: Estimate;
  promptLoose: Estimate;
  instructionStrict: Estimate;
  instructionLoose: Estimate;
}

interface IfevalScoreRow {
  id: string;
  prompt_strict: boolean;
  prompt_loose: boolean;
  instruction_strict: boolean[];
  instruction_loose: boolean[];
}

const evalDir = (run: string, label: string) => `${run}/eval/${label}`;
const mtBenchId = (questionId: number) => `mtbench-${questionId}`;

/** MT-Bench's figures for one model: FastChat's means (show_result) and the same with bootstrap intervals. */
export interface MtBenchScores extends MtBenchSummary {
  suite: 'mtBench';
  label: string;
  questions: number;
  overallScore: Estimate;
  turn1Score: Estimate;
  turn2Score: Estimate;
}

const ifevalId = (key: number) => `ifeval-${key}`;

export function createEvaluationActivities(store: Store, engine: Engine) {
  return withTypedFailures({
    ...createAlpacaEvalActivities(store),
    ...createHumanEvalActivities(store, engine),

    /** The folder that holds the enabled suites' files; fails the run at its start when there is none. */
    async resolveEvalData(input: { data: string | null; suites: string[]; fetch?: boolean }): Promise<{ dir: string }> {
      return { dir: await resolveOrFetchEvalDir(input.data, input.suites, input.fetch ?? false) };
    },

    /** IFEval's prompts (or their seeded subset) as requests for the model under test. */
    async buildIfevalRequests(input: { run: string; label: string; dir: string; limit: number | null; seed: number; chat: boolean }): Promise<ArtifactRef> {
      const items = await readIfeval(input.dir, input.limit, input.seed);
      const rows = items.map((item) => {
        const req = buildResponseRequest({ instruction: item.prompt, input: '' }, input.chat);
        return req.kind === 'chat' ? { id: ifevalId(item.key), messages: req.messages } : { id: ifevalId(item.key), prompt: req.prompt };
      });
      return store.writeJsonl(`${evalDir(input.run, input.label)}/ifeval.requests.jsonl`, rows);
    },

    /** Several suites' request files as one (their ids are distinct: ifeval-…, mtbench-…), for one generation job. */
    async joinRequests(input: { parts: ArtifactRef[]; path: string }): Promise<ArtifactRef> {
      const seen = new Set<string>();
      async function* rows() {
        for (const part of input.parts) {
          for await (const row of store.readJsonl<{ id: string }>(part)) {
            if (seen.has(row.id)) throw new Error(`${part.uri}: id ${row.id} is in another suite's requests too`);
            seen.add(row.id);
            yield row;
          }
        }
      }
      return store.writeJsonl(input.path, rows());
    },

    /**
     * A joint generation job's rows, back into each suite's own raw file (beside its requests: X.requests.jsonl →
     * X.raw.jsonl), in the order of its requests; a request without its answer fails, naming both files.
     */
    async splitGenerations(input: { generations: ArtifactRef; parts: ArtifactRef[] }): Promise<ArtifactRef[]> {
      const byId = new Map<string, unknown>();
      for await (const row of store.readJsonl<{ id: string }>(input.generations)) {
        beat();
        byId.set(row.id, row);
      }
      const outputs: ArtifactRef[] = [];
      for (const part of input.parts) {
        if (!part.uri.endsWith('.requests.jsonl')) throw new Error(`${part.uri}: expected a *.requests.jsonl file`);
        const ids: string[] = [];
        for await (const row of store.readJsonl<{ id: string }>(part)) ids.push(row.id);
        const missing = ids.find((id) => !byId.has(id));
        if (missing !== undefined) throw new Error(`${input.generations.uri} has no answer for ${missing} of ${part.uri}`);
        outputs.push(await store.writeJsonl(part.uri.replace(/\.requests\.jsonl$/, '.raw.jsonl'), ids.map((id) => byId.get(id))));
      }
      return outputs;
    },

    /** Scores the answers with lm-eval's IFEval checker (engine job score-ifeval): the four accuracies with intervals. */
    async scoreIfeval(input: { run: string; label: string; dir: string; limit: number | null; seed: number; responses: ArtifactRef }): Promise<IfevalSummary> {
      const dir = evalDir(input.run, input.label);
      const items = new Map((await readIfeval(input.dir, input.limit, input.seed)).map((item) => [ifevalId(item.key), item]));
      async function* rows() {
        for await (const out of store.readJsonl<{ id: string; text: string }>(input.responses)) {
          beat();
          const item = items.get(out.id);
          if (!item) throw new Error(`${input.responses.uri}: ${out.id} is not an IFEval item of this run`);
          yield { id: out.id, prompt: item.prompt, instruction_id_list: item.instruction_id_list, kwargs: item.kwargs, response: out.text };
        }
      }
      const scoringInput = await store.writeJsonl(`${dir}/ifeval.score-input.jsonl`, rows());
      const output = `${dir}/ifeval.scores.jsonl`;
      await runEngineJob(
        engine,
        'score-ifeval',
        { input: store.path(scoringInput.uri), output: store.path(output), seed: input.seed },
        store.path(`${output}.spec.json`),
        { CUDA_VISIBLE_DEVICES: '' },
      );
      const counts = { items: 0, promptStrict: 0, promptLoose: 0, instructions: 0, instructionStrict: 0, instructionLoose: 0 };
      for await (const row of store.readJsonl<IfevalScoreRow>(await store.refOf(output))) {
        counts.items++;
        counts.promptStrict += Number(row.prompt_strict);
        counts.promptLoose += Number(row.prompt_loose);
        counts.instructions += row.instruction_strict.length;
        counts.instructionStrict += row.instruction_strict.filter(Boolean).length;
        counts.instructionLoose += row.instruction_loose.filter(Boolean).length;
      }
      return {
        suite: 'ifeval',
        label: input.label,
        items: counts.items,
        instructions: counts.instructions,
        promptStrict: proportion(counts.promptStrict, counts.items),
        promptLoose: proportion(counts.promptLoose, counts.items),
        instructionStrict: proportion(counts.instructionStrict, counts.instructions),
        instructionLoose: proportion(counts.instructionLoose, counts.instructions),
      };
    },

    /**
     * MT-Bench requests for the model under test: turn 1 is the first question; turn 2 is the first question, the
     * model's own turn-1 answer (from `turn1`), then the second question. A base model without its chat template
     * gets the same conversation as plain text, the turns separated by blank lines.
     */
    async buildMtBenchRequests(input: { run: string; label: string; dir: string; limit: number | null; seed: number; chat: boolean; turn: 1 | 2; turn1?: ArtifactRef }): Promise<ArtifactRef> {
      const { questions } = await readMtBench(input.dir, input.limit, input.seed);
      const answers = input.turn === 2 ? await textsById(store, input.turn1!) : null;
      const rows = questions.map((q) => {
        const id = mtBenchId(q.questionId);
        const turn1Answer = answers?.get(id);
        if (input.turn === 2 && turn1Answer === undefined) throw new Error(`no turn-1 answer for ${id} in ${input.turn1!.uri}`);
        if (!input.chat) return { id, prompt: input.turn === 1 ? q.turns[0] : `${q.turns[0]}\n\n${turn1Answer}\n\n${q.turns[1]}` };
        return { id, messages: mtBenchMessages(q, input.turn, { system: RESPONSE_SYSTEM_PROMPT, ...(turn1Answer !== undefined ? { turn1Answer } : {}) }) };
      });
      return store.writeJsonl(`${evalDir(input.run, input.label)}/mtbench.turn${input.turn}.requests.jsonl`, rows);
    },

    /**
     * The judge's single-answer gradings (FastChat's templates, reference-guided for math, reasoning, coding): two per
     * question. With an answerPrefix each conversation ends on an assistant turn holding it, which the engine continues.
     */
    async buildMtBenchJudgeRequests(input: { run: string; label: string; dir: string; limit: number | null; seed: number; turn1: ArtifactRef; turn2: ArtifactRef; answerPrefix?: string | null }): Promise<ArtifactRef> {
      const { questions, references, judgePrompts } = await readMtBench(input.dir, input.limit, input.seed);
      const [a1, a2] = [await textsById(store, input.turn1), await textsById(store, input.turn2)];
      const rows = questions.flatMap((question) => {
        const id = mtBenchId(question.questionId);
        const answers = [a1.get(id) ?? '', a2.get(id) ?? ''];
        const reference = references[question.questionId];
        return ([1, 2] as const).map((turn) => {
          const request = buildJudgeRequest({ question, turn, answers: turn === 1 ? answers.slice(0, 1) : answers, judgePrompts, ...(reference ? { reference } : {}) });
          const prefill = input.answerPrefix ? [{ role: 'assistant' as const, content: input.answerPrefix }] : [];
          return { id: `${id}-t${turn}`, messages: [...request.messages, ...prefill] };
        });
      });
      return store.writeJsonl(`${evalDir(input.run, input.label)}/mtbench.judge.requests.jsonl`, rows);
    },

    /** Ratings out of the judgments ([[rating]]), per item into mtbench.scores.jsonl; means per turn and category. */
    async scoreMtBench(input: { run: string; label: string; dir: string; limit: number | null; seed: number; judgments: ArtifactRef; answerPrefix?: string | null }): Promise<MtBenchScores> {
      const { questions } = await readMtBench(input.dir, input.limit, input.seed);
      const texts = await textsById(store, input.judgments);
      const judged: (MtBenchJudgment & { id: string; judgment: string })[] = [];
      for (const q of questions) {
        for (const turn of [1, 2] as const) {
          const id = `${mtBenchId(q.questionId)}-t${turn}`;
          const written = texts.get(id);
          if (written === undefined) throw new Error(`no judgment for ${id} in ${input.judgments.uri}`);
          const judgment = `${input.answerPrefix ?? ''}${written}`; // the prefill is the judgment's beginning
          judged.push({ id, questionId: q.questionId, category: q.category, turn, score: parseRating(judgment), judgment });
        }
      }
      await store.writeJsonl(`${evalDir(input.run, input.label)}/mtbench.scores.jsonl`, judged);
      const parsable = (turn?: 1 | 2) => judged.filter((j) => j.score !== UNPARSABLE_RATING && (turn === undefined || j.turn === turn)).map((j) => j.score);
      return {
        suite: 'mtBench',
        label: input.label,
        questions: questions.length,
        ...aggregateMtBench(judged),
        overallScore: meanWithInterval(parsable(), input.seed),
        turn1Score: meanWithInterval(parsable(1), input.seed),
        turn2Score: meanWithInterval(parsable(2), input.seed),
      };
    },

    /**
     * How much model `b` gained over model `a` on IFEval's `figure`, paired over the same items (prompt-level
     * figures per prompt, instruction-level per instruction), with a bootstrap interval.
     */
    async ifevalDelta(input: { run: string; a: string; b: string; figure: 'promptStrict' | 'promptLoose' | 'instructionStrict' | 'instructionLoose'; seed: number }): Promise<Estimate> {
      const scores = async (label: string) => {
        const byId = new Map<string, number[]>();
        for await (const row of store.readJsonl<IfevalScoreRow>(await store.refOf(`${evalDir(input.run, label)}/ifeval.scores.jsonl`))) {
          byId.set(row.id, figureValues(row, input.figure));
        }
        return byId;
      };
      const [a, b] = [await scores(input.a), await scores(input.b)];
      const xs: number[] = [];
      const ys: number[] = [];
      for (const [id, values] of a) {
        const other = b.get(id);
        if (!other || other.length !== values.length) throw new Error(`${input.b} was not scored on the same IFEval items as ${input.a} (${id})`);
        xs.push(...values);
        ys.push(...other);
      }
      return pairedDelta(xs, ys, input.seed);
    },
  });
}

function figureValues(row: IfevalScoreRow, figure: 'promptStrict' | 'promptLoose' | 'instructionStrict' | 'instructionLoose'): number[] {
  switch (figure) {
    case 'promptStrict':
      return [Number(row.prompt_strict)];
    case 'promptLoose':
      return [Number(row.prompt_loose)];
    case 'instructionStrict':
      return row.instruction_strict.map(Number);
    case 'instructionLoose':
      return row.instruction_loose.map(Number);
  }
}

export type EvaluationActivities = ReturnType<typeof createEvaluationActivities>;
