/**
 * The report's sample pairs, read from an iteration's artifacts: the kept pairs, and the rows a stage dropped
 * (found by walking its input beside its output) with the reason the stage's own function gives.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readIterationSamples } from '../src/report/samples.js';
import { RULES } from '../src/stages/rule-filter.js';
import type { IterationCard } from '../src/workflows/types.js';
import { tempStore } from './support/env.js';

const task = (id: string, instruction: string, input = '') => ({ id, instruction, input });
const card = (over: Partial<IterationCard> = {}): IterationCard => ({
  iteration: 1,
  model: 'm',
  synthesis: { rounds: 2, target: 6, calls: 2, parsed: 8, droppedLast: 2, unparsedLines: 0, dropped: {}, accepted: 6 },
  responses: { in: 6, kept: 4, dropped: { empty_response: 1, asks_user_back: 1 } },
  assessment: { in: 4, kept: 1, dropped: { low_quality: 1, unparsable_following: 1, low_following: 1 }, histograms: { quality: [], following: [] } },
  generation: [],
  ...over,
});

async function iteration() {
  const store = tempStore();
  const dir = 'runs/r/iter-1';
  const tasks = [
    task('a', 'Explain how tides work.'),
    task('b', 'Write a haiku about rain.'),
    task('c', 'Summarize the plot of Hamlet.'),
    task('d', 'List three prime numbers.'),
    task('e', 'Describe a volcano.'),
    task('f', 'Name two rivers.'),
  ];
  const answers: Record<string, string> = {
    a: 'The moon pulls the oceans.',
    b: '   ',
    c: 'A prince avenges his father.',
    d: 'Which primes would you like?',
    e: 'Molten rock erupts.',
    f: 'The Nile and the Amazon.',
  };
  await store.writeJsonl(`${dir}/synthesis/accepted-after-round-0.jsonl`, tasks.slice(0, 3)); // an earlier round: not the one read
  await store.writeJsonl(`${dir}/synthesis/accepted-after-round-1.jsonl`, tasks);
  await store.writeJsonl(`${dir}/responses.raw.jsonl`, tasks.map((t) => ({ id: t.id, text: answers[t.id] })));
  const pairs = tasks.filter((t) => t.id !== 'b' && t.id !== 'd').map((t) => ({ ...t, response: answers[t.id] }));
  await store.writeJsonl(`${dir}/pairs.jsonl`, pairs);
  await store.writeJsonl(`${dir}/assessment/quality.raw.jsonl`, [
    { id: 'a', text: '9||correct' },
    { id: 'c', text: '5||thin' },
    { id: 'e', text: '10||fine' },
    { id: 'f', text: '9||ok' },
  ]);
  await store.writeJsonl(`${dir}/assessment/following.raw.jsonl`, [
    { id: 'a', text: '10||direct' },
    { id: 'c', text: '9||direct' },
    { id: 'e', text: 'I would say it follows.' },
    { id: 'f', text: '3||no' },
  ]);
  await store.writeJsonl(`${dir}/kept.jsonl`, [{ ...pairs[0], qualityScore: 9, followingScore: 10 }]);
  return store;
}

describe('sample pairs for the report', () => {
  it('finds the kept pairs, and the dropped ones with the rule or selection reason that dropped them', async () => {
    const store = await iteration();
    const s = await readIterationSamples(store, 'runs/r', card(), { rules: RULES, level: 'both', threshold: 8 });
    expect(s.notes).toEqual([]);
    expect(s.kept).toEqual([{ id: 'a', instruction: 'Explain how tides work.', input: '', response: 'The moon pulls the oceans.', qualityScore: 9, followingScore: 10 }]);
    expect(s.ruleDropped.map((p) => [p.id, p.reason, p.response])).toEqual([
      ['b', 'empty_response', ''],
      ['d', 'asks_user_back', 'Which primes would you like?'],
    ]);
    expect(s.assessmentDropped.map((p) => [p.id, p.reason])).toEqual([
      ['c', 'low_quality'],
      ['e', 'unparsable_following'],
      ['f', 'low_following'],
    ]);
    expect(s.assessmentDropped[1]).toMatchObject({ qualityJudgment: '10||fine', followingJudgment: 'I would say it follows.' });
  });

  it('stops at perKind rows of each kind', async () => {
    const store = await iteration();
    const s = await readIterationSamples(store, 'runs/r', card(), { perKind: 1, rules: RULES, level: 'both', threshold: 8 });
    expect([s.kept.length, s.ruleDropped.length, s.assessmentDropped.length]).toEqual([1, 1, 1]);
  });

  it('leaves out what it cannot read, saying so, and never throws', async () => {
    const store = await iteration();
    writeFileSync(store.path('runs/r/iter-1/pairs.jsonl'), '{"id": "a", broken\n');
    const s = await readIterationSamples(store, 'runs/r', card(), { rules: RULES, level: 'both', threshold: 8 });
    expect(s.kept).toHaveLength(1);
    expect(s.ruleDropped).toEqual([]);
    expect(s.assessmentDropped).toEqual([]);
    expect(s.notes).toHaveLength(2);
    expect(s.notes[0]).toMatch(/^pairs dropped by the rule filter: /);
    // An iteration that ended before its responses (no instruction survived) has only what it wrote.
    const early = await readIterationSamples(tempStore(), 'runs/r', card({ responses: undefined, assessment: undefined }), { rules: RULES, level: 'both', threshold: 8 });
    expect(early).toEqual({ iteration: 1, kept: [], ruleDropped: [], assessmentDropped: [], notes: [] });
  });
});
