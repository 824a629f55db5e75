import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/stages/rng.js';
import {
  DedupIndex,
  lcsLength,
  lcsLengthDp,
  rougeL,
  rougeTokens,
} from '../../src/stages/rouge.js';

describe('rougeTokens', () => {
  it('lower-cases and splits on every character outside a-z and 0-9, like rouge-score without a stemmer', () => {
    expect(rougeTokens("Don't STOP—now! 3.14 apples")).toEqual(['don', 't', 'stop', 'now', '3', '14', 'apples']);
  });

  it('treats accented and non-Latin letters as separators', () => {
    expect(rougeTokens('Café naïve 東京 ok')).toEqual(['caf', 'na', 've', 'ok']);
  });

  it('returns no tokens for punctuation or whitespace only', () => {
    expect(rougeTokens(' ... !!! \n\t ')).toEqual([]);
  });
});

describe('rougeL', () => {
  it('gives 1 for identical texts, whatever the case and punctuation', () => {
    expect(rougeL('Write a poem about the sea.', 'write a POEM about the sea')).toEqual({ precision: 1, recall: 1, fmeasure: 1 });
  });

  it('gives 0 for texts with no token in common', () => {
    expect(rougeL('alpha beta gamma', 'delta epsilon')).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
  });

  it('gives 0 when either side has no tokens', () => {
    expect(rougeL('', 'something here').fmeasure).toBe(0);
    expect(rougeL('something here', '?!').fmeasure).toBe(0);
  });

  it('gives P = R = 5/6 for "the cat sat on the mat" against "the cat lay on the mat"', () => {
    const score = rougeL('the cat sat on the mat', 'the cat lay on the mat');
    expect(score.precision).toBeCloseTo(5 / 6, 12);
    expect(score.recall).toBeCloseTo(5 / 6, 12);
    expect(score.fmeasure).toBeCloseTo(5 / 6, 12);
  });

  it('computes precision over the prediction and recall over the target (hand-computed LCS a c e = 3)', () => {
    const score = rougeL('a b c d e', 'a c e x');
    expect(score.precision).toBeCloseTo(3 / 4, 12);
    expect(score.recall).toBeCloseTo(3 / 5, 12);
    expect(score.fmeasure).toBeCloseTo((2 * 0.75 * 0.6) / 1.35, 12);
  });

  it("matches the rouge-score README example (0.625 / 0.5556 / 0.5882)", () => {
    const score = rougeL('The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the log.');
    expect(score.precision).toBeCloseTo(0.625, 12);
    expect(score.recall).toBeCloseTo(0.5555555555555556, 12);
    expect(score.fmeasure).toBeCloseTo(0.5882352941176471, 12);
  });

  it('counts a repeated token only as often as both sides can align it', () => {
    // The LCS of "a a a b" and "a b a a" is "a a a": 3 of 4 tokens.
    const score = rougeL('a a a b', 'a b a a');
    expect(score.precision).toBeCloseTo(3 / 4, 12);
  });
});

describe('lcsLength', () => {
  it('agrees with the dynamic programme on random sequences of many lengths, across 32-bit word boundaries', () => {
    const rng = createRng(42);
    for (let trial = 0; trial < 600; trial++) {
      const alphabet = 1 + rng.int(12);
      const a = Array.from({ length: rng.int(140) }, () => rng.int(alphabet));
      const b = Array.from({ length: rng.int(140) }, () => rng.int(alphabet));
      expect(lcsLength(a, b)).toBe(lcsLengthDp(a, b));
    }
  });

  it('handles patterns of exactly 32 and 64 tokens, where carries cross word boundaries', () => {
    for (const n of [31, 32, 33, 63, 64, 65]) {
      const a = Array.from({ length: n }, (_, i) => i % 3);
      const b = Array.from({ length: n + 7 }, (_, i) => (i * 7) % 3);
      expect(lcsLength(a, b)).toBe(lcsLengthDp(a, b));
      expect(lcsLength(a, a)).toBe(n);
    }
  });
});

function randomSentence(rng: ReturnType<typeof createRng>, words: string[]): string {
  const n = 4 + rng.int(20);
  return Array.from({ length: n }, () => words[rng.int(words.length)]).join(' ');
}

describe('DedupIndex', () => {
  const words = 'write a the poem story list explain summarize about of for to cat dog sea city three five short long'.split(' ');

  it('returns the same maximum similarity as a brute-force scan with rougeL', () => {
    const rng = createRng(7);
    const added = Array.from({ length: 300 }, () => randomSentence(rng, words));
    const index = new DedupIndex(added);
    for (let q = 0; q < 100; q++) {
      const query = randomSentence(rng, words);
      const brute = Math.max(...added.map((text) => rougeL(text, query).fmeasure));
      expect(index.maxSimilarity(query)).toBeCloseTo(brute, 12);
      expect(index.isNearDuplicate(query, 0.7)).toBe(brute > 0.7);
      expect(index.isNearDuplicate(query, 0.5)).toBe(brute > 0.5);
    }
  });

  it('treats a score exactly at the threshold as not a near-duplicate (strictly greater)', () => {
    const index = new DedupIndex(['a b c d e f g h i j']);
    // 7 of 10 tokens in order on both sides: P = R = F = 0.7.
    expect(index.maxSimilarity('a b c d e f g x y z')).toBeCloseTo(0.7, 12);
    expect(index.isNearDuplicate('a b c d e f g x y z', 0.7)).toBe(false);
    expect(index.isNearDuplicate('a b c d e f g h y z', 0.7)).toBe(true);
  });

  it('finds nothing in an empty index and for queries of unseen words', () => {
    const index = new DedupIndex();
    expect(index.maxSimilarity('anything at all')).toBe(0);
    index.add('write a poem about the sea');
    expect(index.maxSimilarity('completely unrelated tokens')).toBe(0);
    expect(index.size).toBe(1);
  });

  it('recognises an exact repeat regardless of case and spacing', () => {
    const index = new DedupIndex(['Write a poem  about the sea.']);
    expect(index.hasExact('  write a poem about the SEA.')).toBe(true);
    expect(index.hasExact('Write a poem about the sea')).toBe(false);
  });

  it('deduplicates 10,000 instructions incrementally within a few seconds', () => {
    const rng = createRng(2024);
    const vocabulary = Array.from({ length: 3000 }, (_, i) => `w${i}`);
    const common = ['the', 'a', 'of', 'to', 'and', 'write', 'explain', 'list', 'in', 'for'];
    const makeInstruction = (): string => {
      const n = 6 + rng.int(25);
      return Array.from({ length: n }, () => (rng.next() < 0.4 ? common[rng.int(common.length)] : vocabulary[rng.int(vocabulary.length)])).join(' ');
    };
    const index = new DedupIndex();
    const started = performance.now();
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const instruction = makeInstruction();
      if (!index.isNearDuplicate(instruction)) {
        index.add(instruction);
        accepted++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    expect(accepted).toBeGreaterThan(9000);
    expect(seconds).toBeLessThan(10);
  });
});
