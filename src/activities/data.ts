/**
 * Data activities: they run on the CPU queue (isheep-cpu). Each loads refs from the store, calls the method's
 * plain functions in src/stages, and saves refs. No model work happens here.
 */
import { writeText } from '../artifacts/text.js';
import { rename } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactRef, Store } from '../artifacts/store.js';
import { readSeedFile, resolveSeedFile } from '../artifacts/seeds.js';
import { ErrorType } from '../errors.js';
import { recordJudgments, recordStageCounts } from './metrics.js';
import { claimRunFolder, type ClaimInput, type RunOwner } from './run-folder.js';
import { beat, withTypedFailures } from './typed-failures.js';
import { buildAssessmentPrompt, type AssessmentKind, type AssessmentVariant } from '../stages/assessment.js';
import { EVAL_ITEMS, scoreEvaluation as scoreEvalResponses } from '../stages/evaluation.js';
import { BLACKLIST, filterInstructions, INSTRUCTION_FILTERS, wordCount } from '../stages/prompt-filters.js';
import { buildResponseRequest, type ResponseRequest } from '../stages/responses.js';
import { createRng } from '../stages/rng.js';
import { DedupIndex } from '../stages/rouge.js';
import { applyRuleFilter, RULES, type Rule } from '../stages/rule-filter.js';
import { lengthStatsOfCounts, toAlpaca, toMessages, type LengthStats } from '../stages/export.js';
import { selectPairs as selectScoredPairs, SELECTION_DROP_REASONS, type JudgedPair, type SelectionLevel } from '../stages/selection.js';
import { zeroCounts } from '../stages/types.js';
import { buildSynthesisPrompt, parseSynthesized, pickDemos } from '../stages/synthesis.js';
import type { Pair, Task } from '../stages/types.js';
import { PROJECT_ROOT } from '../setup/tools.js';
import type { ReportInput } from '../report/document.js';
import { writeRunReport } from '../report/write.js';

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

/** Rows are judged in groups of this many, so memory stays flat however many pairs a stage has. */
const CHUNK = 1000;

/**
 * Streams rows of `main` with the rows of the same id in each of `others`, which must list the same ids in
 * the same order (engine outputs follow their requests, and shards are joined in order). Nothing is held but
 * the current rows, so memory stays flat however large the stage.
 */
async function* zipById<T extends { id: string }>(
  store: Store,
  main: ArtifactRef,
  others: (ArtifactRef | null)[],
): AsyncGenerator<[T, (EngineOutput | null)[]]> {
  const iterators = others.map((ref) => (ref ? store.readJsonl<EngineOutput>(ref)[Symbol.asyncIterator]() : null));
  for await (const row of store.readJsonl<T>(main)) {
    beat();
    const matched: (EngineOutput | null)[] = [];
    for (const [k, it] of iterators.entries()) {
      if (!it) {
        matched.push(null);
        continue;
      }
      const next = await it.next();
      if (next.done) throw ApplicationFailure.create({ type: ErrorType.ArtifactCorrupt, message: `no row for ${row.id} in ${others[k]!.uri}`, nonRetryable: true });
      if (next.value.id !== row.id) {
        throw ApplicationFailure.create({
          type: ErrorType.ArtifactCorrupt,
          message: `${others[k]!.uri} has ${JSON.stringify(next.value.id)} where ${main.uri} has ${JSON.stringify(row.id)}: rows out of order`,
          nonRetryable: true,
        });
      }
      matched.push(next.value);
    }
    yield [row, matched];
  }
  for (const [k, it] of iterators.entries()) {
    if (it && !(await it.next()).done) {
      throw ApplicationFailure.create({ type: ErrorType.ArtifactCorrupt, message: `${others[k]!.uri} has more rows than ${main.uri}`, nonRetryable: true });
    }
  }
}

/** Streams `rows` through `fn` in groups of CHUNK. */
async function* chunks<T>(rows: AsyncIterable<T>): AsyncGenerator<T[]> {
  let group: T[] = [];
  for await (const row of rows) {
    group.push(row);
    if (group.length === CHUNK) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

function addInto(total: Record<string, number>, part: Record<string, number>) {
  for (const [k, n] of Object.entries(part)) total[k] = (total[k] ?? 0) + n;
}

export function createDataActivities(store: Store) {
  return withTypedFailures({
    /**
     * Records which run owns runs/<name>/ before the run writes anything there; refuses a folder that another
     * run owns unless the config asks to resume it (see run-folder.ts).
     */
    async claimRunFolder(input: ClaimInput): Promise<RunOwner> {
      return claimRunFolder(store, input);
    },

    /**
     * Validates the seed file and copies it into the run, so the run never depends on the original again. A
     * resumed run with other seeds keeps the earlier copy beside the new one (seeds.<sha256 prefix>.jsonl).
     */
    async loadSeeds(input: { run: string; file: string }): Promise<ArtifactRef> {
      const tasks = await readSeedFile(resolveSeedFile(input.file, PROJECT_ROOT));
      const uri = `${input.run}/seeds.jsonl`;
      const previous = store.exists(uri) ? await store.refOf(uri) : null;
      const ref = await store.writeJsonl(`${input.run}/seeds.next.jsonl`, tasks);
      if (previous && previous.sha256 !== ref.sha256) await rename(store.path(uri), store.path(`${input.run}/seeds.${previous.sha256.slice(0, 12)}.jsonl`));
      await rename(store.path(ref.uri), store.path(uri));
      return { ...ref, uri };
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
      function* rows(): Generator<EngineRequest> {
        for (let i = 0; i < input.count; i++) {
          beat();
          const demos = pickDemos(seeds, input.demosPerPrompt, rng);
          yield { id: `i${input.iteration}-r${input.round}-c${i}`, prompt: buildSynthesisPrompt(demos, { numTasks: input.tasksPerPrompt }) };
        }
      }
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/synthesis/round-${input.round}.requests.jsonl`, rows());
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
      const counts: SynthesisCounts = { calls: 0, parsed: 0, droppedLast: 0, unparsedLines: 0, dropped: zeroCounts(INSTRUCTION_FILTERS), accepted: 0 };
      const filters = {
        minWordsExclusive: input.filters.minWords,
        maxWords: input.filters.maxWords,
        blacklist: BLACKLIST,
        nearDuplicateThreshold: input.filters.rougeThreshold,
      };
      // Row by row, in order, against one index: the same result as filtering all candidates at once, without
      // holding them (the filter is sequential: each accepted instruction joins the index for later ones).
      const room = Math.max(0, input.limit - previous.length);
      const fresh: Task[] = [];
      let overTarget = 0;
      for await (const row of store.readJsonl<EngineOutput>(input.raw)) {
        beat();
        counts.calls++;
        const parsed = parseSynthesized(row.text, input.firstNumber);
        counts.parsed += parsed.tasks.length;
        if (parsed.droppedLast) counts.droppedLast++;
        counts.unparsedLines += parsed.unparsed;
        const candidates = parsed.tasks.map((t, k) => ({ id: `${row.id}-t${k}`, instruction: t.instruction, input: t.input }));
        const filtered = filterInstructions(candidates, index, filters);
        addInto(counts.dropped, filtered.dropped);
        for (const task of filtered.accepted) {
          if (fresh.length < room) fresh.push(task);
          else overTarget++;
        }
      }
      if (overTarget > 0) counts.dropped.over_target = overTarget;
      counts.accepted = fresh.length;
      recordStageCounts(input.run, 'synthesis', { in: counts.parsed, kept: counts.accepted, dropped: counts.dropped });
      const accepted = await store.writeJsonl(
        `${iterationDir(input.run, input.iteration)}/synthesis/accepted-after-round-${input.round}.jsonl`,
        [...previous, ...fresh],
      );
      return { accepted, counts };
    },

    /** The instructions as prompts: raw text for the base model, the chat template for fine-tuned ones. */
    async buildResponseRequests(input: { run: string; iteration: number; tasks: ArtifactRef; chat: boolean }): Promise<ArtifactRef> {
      async function* rows() {
        for await (const task of store.readJsonl<Task>(input.tasks)) {
          beat();
          yield toEngineRequest(task.id, buildResponseRequest(task, input.chat));
        }
      }
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/responses.requests.jsonl`, rows());
    },

    /** Joins instructions with their answers and applies the named rules of ISHEEP.md step 4. */
    async filterResponses(input: {
      run: string;
      iteration: number;
      tasks: ArtifactRef;
      responses: ArtifactRef;
      rules: Rule[];
    }): Promise<{ pairs: ArtifactRef; counts: StageCounts }> {
      const counts: StageCounts = { in: 0, kept: 0, dropped: zeroCounts(RULES) };
      async function* pairs() {
        for await (const [task, [answer]] of zipById<Task>(store, input.tasks, [input.responses])) yield { ...task, response: answer!.text.trim() };
      }
      async function* kept() {
        for await (const group of chunks<Pair>(pairs())) {
          const result = applyRuleFilter(group, input.rules);
          counts.in += group.length;
          counts.kept += result.kept.length;
          addInto(counts.dropped, result.dropped);
          yield* result.kept;
        }
      }
      const ref = await store.writeJsonl(`${iterationDir(input.run, input.iteration)}/pairs.jsonl`, kept());
      recordStageCounts(input.run, 'rule_filter', counts);
      return { pairs: ref, counts };
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
      async function* rows(): AsyncGenerator<EngineRequest> {
        for await (const pair of store.readJsonl<Pair>(input.pairs)) {
          beat();
          const prompt = buildAssessmentPrompt(input.kind, input.variant, pair);
          yield input.chat ? { id: pair.id, messages: [{ role: 'user', content: prompt }] } : { id: pair.id, prompt };
        }
      }
      return store.writeJsonl(`${iterationDir(input.run, input.iteration)}/assessment/${input.kind}.requests.jsonl`, rows());
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
      const dir = iterationDir(input.run, input.iteration);
      const counts: StageCounts = { in: 0, kept: 0, dropped: zeroCounts(SELECTION_DROP_REASONS) };
      const histograms = { quality: new Array<number>(10).fill(0), following: new Array<number>(10).fill(0) };
      // Word counts only, for the length statistics of the kept pairs: their texts need not stay in memory.
      const keptInstructions: number[] = [];
      const keptResponses: number[] = [];
      const writers = {
        kept: await store.jsonlWriter(`${dir}/kept.jsonl`),
        // The kept pairs in the common SFT formats, for use with any other trainer.
        alpaca: await store.jsonlWriter(`${dir}/export/alpaca.jsonl`),
        messages: await store.jsonlWriter(`${dir}/export/messages.jsonl`),
      };
      try {
        async function* judged(): AsyncGenerator<JudgedPair> {
          for await (const [pair, [q, f]] of zipById<Pair>(store, input.pairs, [input.quality, input.following])) {
            yield { ...pair, qualityJudgment: q?.text ?? null, followingJudgment: f?.text ?? null };
          }
        }
        for await (const group of chunks(judged())) {
          const result = selectScoredPairs(group, { level: input.level, threshold: input.threshold });
          counts.in += group.length;
          counts.kept += result.kept.length;
          addInto(counts.dropped, result.dropped);
          result.histograms.quality.forEach((n, i) => (histograms.quality[i]! += n));
          result.histograms.following.forEach((n, i) => (histograms.following[i]! += n));
          for (const pair of result.kept) {
            await writers.kept.write(pair);
            await writers.alpaca.write(toAlpaca(pair));
            await writers.messages.write(toMessages(pair));
            keptInstructions.push(wordCount(pair.instruction));
            keptResponses.push(wordCount(pair.response));
          }
        }
        const kept = await writers.kept.commit();
        await writers.alpaca.commit();
        await writers.messages.commit();
        recordStageCounts(input.run, 'assessment', counts);
        // Every judgment of a pass that ran, and those that gave no score in 1–10 (the histograms count the others).
        const scored = (h: number[]) => h.reduce((a, b) => a + b, 0);
        if (input.quality) recordJudgments('assessment_quality', counts.in, counts.in - scored(histograms.quality));
        if (input.following) recordJudgments('assessment_following', counts.in, counts.in - scored(histograms.following));
        return {
          kept,
          counts,
          histograms,
          lengths: { instruction: lengthStatsOfCounts(keptInstructions), response: lengthStatsOfCounts(keptResponses) },
        };
      } catch (err) {
        await Promise.all(Object.values(writers).map((w) => w.abort()));
        throw err;
      }
    },

    /** Splits a request file into shards of at most `shardSize` rows, so a stage can run on every slot. */
    async splitJsonl(input: { source: ArtifactRef; shardSize: number; prefix: string }): Promise<ArtifactRef[]> {
      const shards: ArtifactRef[] = [];
      let writer: Awaited<ReturnType<Store['jsonlWriter']>> | null = null;
      let inShard = 0;
      for await (const row of store.readJsonl(input.source)) {
        beat();
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
        for (const part of input.parts) {
          for await (const row of store.readJsonl(part)) {
            beat();
            yield row;
          }
        }
      }
      return store.writeJsonl(input.output, all());
    },

    /** The verifiable-instruction prompts, formatted for the model under test. */
    async buildEvalRequests(input: { run: string; label: string; chat: boolean }): Promise<ArtifactRef> {
      const rows = EVAL_ITEMS.map((item) =>
        toEngineRequest(item.id, buildResponseRequest({ instruction: item.prompt, input: '' }, input.chat)),
      );
      return store.writeJsonl(`${input.run}/eval/${input.label}.requests.jsonl`, rows);
    },

    async scoreEvaluation(input: { run: string; label: string; responses: ArtifactRef }): Promise<EvalScore> {
      const byId: Record<string, string> = {};
      for await (const out of store.readJsonl<EngineOutput>(input.responses)) byId[out.id] = out.text;
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

    /**
     * The run's report, `${run}/report.{json,md,html}`: the document, its table, and the HTML page with charts and
     * sample pairs read from the iterations' artifacts. Rewritten after every iteration and at the end.
     */
    async writeReport(input: ReportInput): Promise<string> {
      return writeRunReport(store, input);
    },
  });
}

export type DataActivities = ReturnType<typeof createDataActivities>;
