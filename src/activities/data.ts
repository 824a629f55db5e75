/**
 * Data activities: they run on the CPU queue (isheep-cpu). Each loads refs from the store, calls the method's
 * plain functions in src/stages, and saves refs. No model work happens here.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactRef, Store } from '../artifacts/store.js';
import { readSeedFile, resolveSeedFile, SeedFileError } from '../artifacts/seeds.js';
import { ErrorType } from '../errors.js';
import { buildAssessmentPrompt, type AssessmentKind, type AssessmentVariant } from '../stages/assessment.js';
import { EVAL_ITEMS, scoreEvaluation as scoreEvalResponses } from '../stages/evaluation.js';
import { BLACKLIST, filterInstructions } from '../stages/prompt-filters.js';
import { buildResponseRequest, type ResponseRequest } from '../stages/responses.js';
import { createRng } from '../stages/rng.js';
import { DedupIndex } from '../stages/rouge.js';
import { applyRuleFilter, type Rule } from '../stages/rule-filter.js';
import { lengthStats, toAlpaca, toMessages, type LengthStats } from '../stages/export.js';
import { selectPairs as selectScoredPairs, type JudgedPair, type SelectionLevel } from '../stages/selection.js';
import { buildSynthesisPrompt, parseSynthesized, pickDemos } from '../stages/synthesis.js';
import type { Pair, Task } from '../stages/types.js';
import { PROJECT_ROOT } from '../setup/tools.js';

/** A row the engine's generate job reads. */
type EngineRequest = { id: string; prompt: string } | { id: string; messages: { role: string; content: string }[] };
/** A row the engine's generate job writes. */
interface EngineOutput {
  id: string;
  text: string;
  new_tokens?: number;
  finish_reason?: string;
}

export interface SynthesisCounts {
  calls: number;
  parsed: number;
  droppedLast: number;
  unparsedLines: number;
  dropped: Record<string, number>;
  accepted: number;
}

export interface StageCounts {
  in: number;
  kept: number;
  dropped: Record<string, number>;
}

export interface EvalScore {
  label: string;
  promptStrict: number;
  instructionStrict: number;
  items: number;
}

export function iterationDir(run: string, iteration: number): string {
  return `${run}/iter-${iteration}`;
}

function toEngineRequest(id: string, req: ResponseRequest): EngineRequest {
  return req.kind === 'chat' ? { id, messages: req.messages } : { id, prompt: req.prompt };
}

function badInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.BadInput, message, nonRetryable: true });
}

async function outputsById(store: Store, ref: ArtifactRef): Promise<Map<string, EngineOutput>> {
  const map = new Map<string, EngineOutput>();
  for await (const row of store.readJsonl<EngineOutput>(ref)) map.set(row.id, row);
  return map;
}

export function createDataActivities(store: Store) {
  return {
    /** Validates the seed file and copies it into the run, so the run never depends on the original again. */
    async loadSeeds(input: { run: string; file: string }): Promise<ArtifactRef> {
      try {
        const tasks = await readSeedFile(resolveSeedFile(input.file, PROJECT_ROOT));
        return await store.writeJsonl(`${input.run}/seeds.jsonl`, tasks);
      } catch (err) {
        if (err instanceof SeedFileError) throw badInput(err.message);
        throw err;
      }
    },

    /** Meta-prompts for one synthesis round: each shows demos drawn at random from the seed pool. */
    async buildSynthesisRequests(input: {
      run: string;
      iteration: number;
      round: number;
      seeds: ArtifactRef;
      count: number;
      demosPerPrompt: number;
      tasksPerPrompt: number;
      seed: number;
    }): Promise<ArtifactRef> {
      const seeds = await store.readAll<Task>(input.seeds);
      const rng = createRng(input.seed * 1_000_003 + input.iteration * 10_007 + input.round);
      const rows: EngineRequest[] = [];
      for (let i = 0; i < input.count; i++) {
        const demos = pickDemos(seeds, input.demosPerPrompt, rng);
        rows.push({ id: `i${input.iteration}-r${input.round}-c${i}`, prompt: buildSynthesisPrompt(demos, { numTasks: input.tasksPerPrompt }) });
      }
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/synthesis/round-${input.round}.requests.jsonl`, rows);
    },

    /**
     * Parses one round's continuations and filters them against the seed pool and everything accepted so
     * far in this iteration (ROUGE-L), appending the survivors to the accepted set.
     */
    async acceptInstructions(input: {
      run: string;
      iteration: number;
      round: number;
      seeds: ArtifactRef;
      accepted: ArtifactRef | null;
      raw: ArtifactRef;
      firstNumber: number;
      limit: number;
      filters: { minWords: number; maxWords: number; rougeThreshold: number };
    }): Promise<{ accepted: ArtifactRef; counts: SynthesisCounts }> {
      const seeds = await store.readAll<Task>(input.seeds);
      const previous = input.accepted ? await store.readAll<Task>(input.accepted) : [];
      const index = new DedupIndex([...seeds, ...previous].map((t) => t.instruction));
      const counts: SynthesisCounts = { calls: 0, parsed: 0, droppedLast: 0, unparsedLines: 0, dropped: {}, accepted: 0 };
      const candidates: Task[] = [];
      for await (const row of store.readJsonl<EngineOutput>(input.raw)) {
        counts.calls++;
        const parsed = parseSynthesized(row.text, input.firstNumber);
        counts.parsed += parsed.tasks.length;
        if (parsed.droppedLast) counts.droppedLast++;
        counts.unparsedLines += parsed.unparsed;
        parsed.tasks.forEach((t, k) => candidates.push({ id: `${row.id}-t${k}`, instruction: t.instruction, input: t.input }));
      }
      const filtered = filterInstructions(candidates, index, {
        minWordsExclusive: input.filters.minWords,
        maxWords: input.filters.maxWords,
        blacklist: BLACKLIST,
        nearDuplicateThreshold: input.filters.rougeThreshold,
      });
      counts.dropped = { ...filtered.dropped };
      const room = Math.max(0, input.limit - previous.length);
      const fresh = filtered.accepted.slice(0, room);
      if (filtered.accepted.length > room) counts.dropped.over_target = filtered.accepted.length - room;
      counts.accepted = fresh.length;
      const accepted = await store.writeJsonl(
        `${iterationDir(input.run, input.iteration)}/synthesis/accepted-after-round-${input.round}.jsonl`,
        [...previous, ...fresh],
      );
      return { accepted, counts };
    },

    /** The instructions as prompts: raw text for the base model, the chat template for fine-tuned ones. */
    async buildResponseRequests(input: { run: string; iteration: number; tasks: ArtifactRef; chat: boolean }): Promise<ArtifactRef> {
      const rows: EngineRequest[] = [];
      for await (const task of store.readJsonl<Task>(input.tasks)) rows.push(toEngineRequest(task.id, buildResponseRequest(task, input.chat)));
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/responses.requests.jsonl`, rows);
    },

    /** Joins instructions with their answers and applies the named rules of ISHEEP.md step 4. */
    async filterResponses(input: {
      run: string;
      iteration: number;
      tasks: ArtifactRef;
      responses: ArtifactRef;
      rules: Rule[];
    }): Promise<{ pairs: ArtifactRef; counts: StageCounts }> {
      const answers = await outputsById(store, input.responses);
      const pairs: Pair[] = [];
      for await (const task of store.readJsonl<Task>(input.tasks)) {
        const answer = answers.get(task.id);
        if (!answer) throw new Error(`no response for ${task.id} in ${input.responses.uri}`);
        pairs.push({ ...task, response: answer.text.trim() });
      }
      const result = applyRuleFilter(pairs, input.rules);
      const ref = await store.writeJsonl(`${iterationDir(input.run, input.iteration)}/pairs.jsonl`, result.kept);
      return { pairs: ref, counts: { in: pairs.length, kept: result.kept.length, dropped: result.dropped } };
    },

    /** One grading prompt per pair for one pass (quality or instruction following). */
    async buildAssessmentRequests(input: {
      run: string;
      iteration: number;
      pairs: ArtifactRef;
      kind: AssessmentKind;
      variant: AssessmentVariant;
      chat: boolean;
    }): Promise<ArtifactRef> {
      const rows: EngineRequest[] = [];
      for await (const pair of store.readJsonl<Pair>(input.pairs)) {
        const prompt = buildAssessmentPrompt(input.kind, input.variant, pair);
        rows.push(input.chat ? { id: pair.id, messages: [{ role: 'user', content: prompt }] } : { id: pair.id, prompt });
      }
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/assessment/${input.kind}.requests.jsonl`, rows);
    },

    /** Keeps the pairs whose self-assessed scores beat the threshold (ISHEEP.md step 6). */
    async selectPairs(input: {
      run: string;
      iteration: number;
      pairs: ArtifactRef;
      quality: ArtifactRef | null;
      following: ArtifactRef | null;
      level: SelectionLevel;
      threshold: number;
    }): Promise<{
      kept: ArtifactRef;
      counts: StageCounts;
      histograms: { quality: number[]; following: number[] };
      lengths: { instruction: LengthStats; response: LengthStats };
    }> {
      const quality = input.quality ? await outputsById(store, input.quality) : null;
      const following = input.following ? await outputsById(store, input.following) : null;
      const judged: JudgedPair[] = [];
      for await (const pair of store.readJsonl<Pair>(input.pairs)) {
        judged.push({ ...pair, qualityJudgment: quality?.get(pair.id)?.text ?? null, followingJudgment: following?.get(pair.id)?.text ?? null });
      }
      const result = selectScoredPairs(judged, { level: input.level, threshold: input.threshold });
      const dir = iterationDir(input.run, input.iteration);
      const kept = await store.writeJsonl(`${dir}/kept.jsonl`, result.kept);
      // The kept pairs in the common SFT formats, for use with any other trainer.
      await store.writeJsonl(`${dir}/export/alpaca.jsonl`, result.kept.map(toAlpaca));
      await store.writeJsonl(`${dir}/export/messages.jsonl`, result.kept.map((p) => toMessages(p)));
      return {
        kept,
        counts: { in: judged.length, kept: result.kept.length, dropped: result.dropped },
        histograms: result.histograms,
        lengths: {
          instruction: lengthStats(result.kept.map((p) => p.instruction)),
          response: lengthStats(result.kept.map((p) => p.response)),
        },
      };
    },

    /** Splits a request file into shards of at most `shardSize` rows, so a stage can run on every slot. */
    async splitJsonl(input: { source: ArtifactRef; shardSize: number; prefix: string }): Promise<ArtifactRef[]> {
      const shards: ArtifactRef[] = [];
      let writer: Awaited<ReturnType<Store['jsonlWriter']>> | null = null;
      let inShard = 0;
      for await (const row of store.readJsonl(input.source)) {
        if (!writer) writer = await store.jsonlWriter(`${input.prefix}${String(shards.length).padStart(4, '0')}.requests.jsonl`);
        await writer.write(row);
        if (++inShard === input.shardSize) {
          shards.push(await writer.commit());
          writer = null;
          inShard = 0;
        }
      }
      if (writer) shards.push(await writer.commit());
      return shards;
    },

    /** Concatenates shard outputs, in order, into one file. */
    async concatJsonl(input: { parts: ArtifactRef[]; output: string }): Promise<ArtifactRef> {
      async function* all() {
        for (const part of input.parts) yield* store.readJsonl(part);
      }
      return store.writeJsonl(input.output, all());
    },

    /** All kept pairs so far, for the total_base policy. */


    /** The verifiable-instruction prompts, formatted for the model under test. */
    async buildEvalRequests(input: { run: string; label: string; chat: boolean }): Promise<ArtifactRef> {
      const rows = EVAL_ITEMS.map((item) =>
        toEngineRequest(item.id, buildResponseRequest({ instruction: item.prompt, input: '' }, input.chat)),
      );
      return store.writeJsonl(`${input.run}/eval/${input.label}.requests.jsonl`, rows);
    },

    async scoreEvaluation(input: { run: string; label: string; responses: ArtifactRef }): Promise<EvalScore> {
      const answers = await outputsById(store, input.responses);
      const byId: Record<string, string> = {};
      for (const [id, out] of answers) byId[id] = out.text;
      const items = EVAL_ITEMS;
      const score = scoreEvalResponses(items, byId);
      await store.writeJsonl(`${input.run}/eval/${input.label}.scores.jsonl`, score.perItem);
      return { label: input.label, promptStrict: score.promptStrict, instructionStrict: score.instructionStrict, items: items.length };
    },

    /** Writes a small document (a data card, the run report) into the store: JSON, and Markdown beside it. */
    async writeDocument(input: { uri: string; document: unknown; markdown?: string }): Promise<string> {
      await writeText(store, `${input.uri}.json`, `${JSON.stringify(input.document, null, 2)}\n`);
      if (input.markdown !== undefined) await writeText(store, `${input.uri}.md`, input.markdown);
      return input.uri;
    },
  };
}

async function writeText(store: Store, uri: string, text: string): Promise<void> {
  const target = store.path(uri);
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, target);
}

export type DataActivities = ReturnType<typeof createDataActivities>;
