import { describe, expect, it } from 'vitest';
import { selectPairs, type JudgedPair } from '../../src/stages/selection.js';

const judged = (id: string, quality: string | null, following: string | null): JudgedPair => ({
  id,
  instruction: `Instruction ${id}`,
  input: '',
  response: `Response ${id}`,
  qualityJudgment: quality,
  followingJudgment: following,
});

const batch: JudgedPair[] = [
  judged('a', '9||good', '10||direct'), // kept
  judged('b', '10||great', '9||fine'), // kept
  judged('c', '8||ok', '10||direct'), // low_quality (8 is not > 8)
  judged('d', '9||good', '8||mostly'), // low_following
  judged('e', 'I think it is good', '9||x'), // unparsable_quality
  judged('f', '9||good', 'N/A'), // unparsable_following
  judged('g', '11||wow', '9||x'), // out_of_range_quality
  judged('h', '9||good', '0||bad'), // out_of_range_following
  judged('i', '3||poor', '2||bad'), // low_quality
];

describe('selectPairs', () => {
  it('keeps a pair only if both scores are greater than 8 by default', () => {
    const result = selectPairs(batch);
    expect(result.kept.map((p) => p.id)).toEqual(['a', 'b']);
    expect(result.kept[0]).toEqual({
      id: 'a',
      instruction: 'Instruction a',
      input: '',
      response: 'Response a',
      qualityScore: 9,
      followingScore: 10,
    });
  });

  it('counts each dropped pair once, under the first failing check with quality before following', () => {
    expect(selectPairs(batch).dropped).toEqual({
      unparsable_quality: 1,
      out_of_range_quality: 1,
      low_quality: 2,
      unparsable_following: 1,
      out_of_range_following: 1,
      low_following: 1,
    });
  });

  it('builds a 1–10 histogram per pass over every judgment that parsed, kept or not', () => {
    const { histograms } = selectPairs(batch);
    //                         1  2  3  4  5  6  7  8  9  10
    expect(histograms.quality).toEqual([0, 0, 1, 0, 0, 0, 0, 1, 4, 1]);
    expect(histograms.following).toEqual([0, 1, 0, 0, 0, 0, 0, 1, 3, 2]);
  });

  it('uses the threshold it is given', () => {
    expect(selectPairs(batch, { threshold: 7 }).kept.map((p) => p.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(selectPairs(batch, { threshold: 9 }).kept.map((p) => p.id)).toEqual([]);
  });

  it('checks only the quality score at level quality', () => {
    const result = selectPairs(batch, { level: 'quality' });
    expect(result.kept.map((p) => p.id)).toEqual(['a', 'b', 'd', 'f', 'h']);
    expect(result.kept.every((p) => p.followingScore === null)).toBe(true);
    expect(result.dropped.unparsable_following).toBe(0);
  });

  it('checks only the following score at level following', () => {
    expect(selectPairs(batch, { level: 'following' }).kept.map((p) => p.id)).toEqual(['a', 'b', 'c', 'e', 'g']);
  });

  it('keeps every pair at level none, even ungraded ones', () => {
    const result = selectPairs([...batch, judged('z', null, null)], { level: 'none' });
    expect(result.kept).toHaveLength(batch.length + 1);
    expect(Object.values(result.dropped).every((n) => n === 0)).toBe(true);
  });

  it('counts a missing judgment for a required pass as unparsable', () => {
    expect(selectPairs([judged('z', null, '9||x')]).dropped.unparsable_quality).toBe(1);
  });
});
