/**
 * A few kept and dropped pairs of each iteration, read from its artifacts for the report. The stages write the
 * survivors only, each file an ordered subsequence of the one before, so the dropped rows are found by walking
 * two files side by side, and their reason is recomputed with the stage's own function:
 *   synthesis/accepted-after-round-<last>.jsonl + responses.raw.jsonl  ⊇  pairs.jsonl   (rule filter: firstBrokenRule)
 *   pairs.jsonl + assessment/{quality,following}.raw.jsonl             ⊇  kept.jsonl    (self-assessment: selectPairs)
 * Reading stops once enough rows are found, so a report costs little however large the iteration. Instructions
 * dropped by the prompt filters are not written anywhere; the card counts them.
 */
import { existsSync } from 'node:fs';
import { readLines } from '../artifacts/lines.js';
import { MAX_JSONL_LINE_BYTES, type Store } from '../artifacts/store.js';
import { beat } from '../activities/typed-failures.js';
import { firstBrokenRule, type Rule } from '../stages/rule-filter.js';
import { selectPairs, type ScoredPair, type SelectionLevel } from '../stages/selection.js';
import type { Pair, Task } from '../stages/types.js';
import type { IterationCard } from '../workflows/types.js';
import type { IterationSamples, SamplePair } from './document.js';

/** Rows of a JSONL file in the store, without the ref check (the report only peeks at the first few). */
async function* rowsOf<T>(store: Store, uri: string): AsyncGenerator<T> {
  for await (const line of readLines(store.path(uri), MAX_JSONL_LINE_BYTES)) {
    beat();
    if (line.text.trim() !== '') yield JSON.parse(line.text) as T;
  }
}

/** One row at a time from a file read alongside another. */
class Cursor<T> {
  private readonly it: AsyncIterator<T>;
  constructor(rows: AsyncIterable<T>) {
    this.it = rows[Symbol.asyncIterator]();
  }
  async next(): Promise<T | undefined> {
    const r = await this.it.next();
    return r.done ? undefined : r.value;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

interface Output {
  id: string;
  text: string;
}

export interface SampleOptions {
  /** Rows of each kind per iteration. */
  perKind?: number;
  rules: readonly Rule[];
  level: SelectionLevel;
  threshold: number;
}

export async function readIterationSamples(store: Store, run: string, card: IterationCard, opts: SampleOptions): Promise<IterationSamples> {
  const dir = `${run}/iter-${card.iteration}`;
  const perKind = opts.perKind ?? 3;
  const out: IterationSamples = { iteration: card.iteration, kept: [], ruleDropped: [], assessmentDropped: [], notes: [] };
  const guarded = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      out.notes.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const present = (uri: string) => existsSync(store.path(uri));

  if (present(`${dir}/kept.jsonl`)) {
    await guarded('kept pairs', async () => {
      for await (const p of rowsOf<ScoredPair>(store, `${dir}/kept.jsonl`)) {
        out.kept.push({ id: p.id, instruction: p.instruction, input: p.input, response: p.response, qualityScore: p.qualityScore, followingScore: p.followingScore });
        if (out.kept.length >= perKind) break;
      }
    });
  }

  const accepted = `${dir}/synthesis/accepted-after-round-${card.synthesis.rounds - 1}.jsonl`;
  const responses = `${dir}/responses.raw.jsonl`;
  if (card.responses && present(accepted) && present(responses) && present(`${dir}/pairs.jsonl`)) {
    await guarded('pairs dropped by the rule filter', async () => {
      const answers = new Cursor(rowsOf<Output>(store, responses));
      const survivors = new Cursor(rowsOf<Pair>(store, `${dir}/pairs.jsonl`));
      try {
        let next = await survivors.next();
        for await (const task of rowsOf<Task>(store, accepted)) {
          const answer = await answers.next();
          if (next?.id === task.id) {
            next = await survivors.next();
            continue;
          }
          const pair = { ...task, response: answer?.id === task.id ? answer.text.trim() : '' };
          out.ruleDropped.push({ ...pair, reason: firstBrokenRule(pair, opts.rules) ?? 'unknown' });
          if (out.ruleDropped.length >= perKind) break;
        }
      } finally {
        await Promise.all([answers.close(), survivors.close()]);
      }
    });
  }

  if (card.assessment && card.assessment.kept < card.assessment.in && present(`${dir}/pairs.jsonl`) && present(`${dir}/kept.jsonl`)) {
    await guarded('pairs dropped by the self-assessment', async () => {
      const judgments = (kind: string) => (present(`${dir}/assessment/${kind}.raw.jsonl`) ? new Cursor(rowsOf<Output>(store, `${dir}/assessment/${kind}.raw.jsonl`)) : null);
      const quality = judgments('quality');
      const following = judgments('following');
      const kept = new Cursor(rowsOf<Pair>(store, `${dir}/kept.jsonl`));
      try {
        let next = await kept.next();
        for await (const pair of rowsOf<Pair>(store, `${dir}/pairs.jsonl`)) {
          const q = (await quality?.next()) ?? null;
          const f = (await following?.next()) ?? null;
          if (next?.id === pair.id) {
            next = await kept.next();
            continue;
          }
          const judged = { ...pair, qualityJudgment: q?.id === pair.id ? q.text : null, followingJudgment: f?.id === pair.id ? f.text : null };
          const result = selectPairs([judged], { level: opts.level, threshold: opts.threshold });
          const reason = Object.entries(result.dropped).find(([, n]) => n > 0)?.[0] ?? 'unknown';
          out.assessmentDropped.push({ id: pair.id, instruction: pair.instruction, input: pair.input, response: pair.response, reason, qualityJudgment: judged.qualityJudgment, followingJudgment: judged.followingJudgment });
          if (out.assessmentDropped.length >= perKind) break;
        }
      } finally {
        await Promise.all([quality?.close(), following?.close(), kept.close()]);
      }
    });
  }
  return out;
}

/** Samples of every iteration in the document. */
export async function readReportSamples(store: Store, run: string, cards: IterationCard[], opts: SampleOptions): Promise<IterationSamples[]> {
  const out: IterationSamples[] = [];
  for (const card of cards) out.push(await readIterationSamples(store, run, card, opts));
  return out;
}
