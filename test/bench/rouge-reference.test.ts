/**
 * Our ROUGE-L against Google's rouge-score 0.1.2 itself, on 200 generated pairs (edge cases of case, punctuation,
 * Unicode and long texts, edited copies, unrelated instructions). Runs the benchmark's Python reference; its venv
 * (bench/setup-python.sh, under $ISHEEP_CACHE) is created from PyPI the first time, then reused (about 1 s).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generatePairs } from '../../bench/data.js';
import { benchPython, rougeScoreReference, type Prf } from '../../bench/python.js';
import { DedupIndex, rougeL, rougeTokens } from '../../src/stages/rouge.js';

describe('ROUGE-L against rouge-score 0.1.2', () => {
  const pairs = generatePairs(200);
  let reference: Prf[] = [];

  beforeAll(() => {
    reference = rougeScoreReference(pairs, benchPython());
  }, 300_000);

  it('gives the same precision, recall and F1, bit for bit, on 200 pairs', () => {
    expect(reference).toHaveLength(pairs.length);
    const mismatches = pairs.flatMap(([target, prediction], i) => {
      const { precision, recall, fmeasure } = rougeL(target, prediction);
      const ours: Prf = [precision, recall, fmeasure];
      const theirs = reference[i] as Prf;
      return ours.every((x, k) => x === theirs[k])
        ? []
        : [{ target, prediction, ours, theirs, tokens: [rougeTokens(target), rougeTokens(prediction)] }];
    });
    expect(mismatches).toEqual([]);
  });

  it('gives the same F1 through DedupIndex, which computes it from the LCS length', () => {
    const mismatches = pairs.flatMap(([target, prediction], i) => {
      const ours = new DedupIndex([target]).maxSimilarity(prediction);
      const theirs = (reference[i] as Prf)[2];
      return ours === theirs ? [] : [{ target, prediction, ours, theirs }];
    });
    expect(mismatches).toEqual([]);
  });
});
