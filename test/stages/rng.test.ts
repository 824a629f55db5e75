import { describe, expect, it } from 'vitest';
import { createRng, seedFromString } from '../../src/stages/rng.js';

describe('createRng', () => {
  it('repeats the same sequence for the same seed and differs for another seed', () => {
    const a = createRng(123);
    const b = createRng(123);
    const c = createRng(124);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('draws floats in [0, 1) and integers in [0, n)', () => {
    const rng = createRng(9);
    for (let i = 0; i < 10_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it('samples without replacement and leaves the input untouched', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const picked = createRng(5).sample(items, 10);
    expect([...picked].sort((x, y) => x - y)).toEqual(items);
    expect(items).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(createRng(5).sample(items, 0)).toEqual([]);
  });

  it('samples every element about equally often', () => {
    const rng = createRng(77);
    const counts = new Array<number>(10).fill(0);
    for (let t = 0; t < 20_000; t++) for (const x of rng.sample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5)) counts[x]!++;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(400);
  });
});

describe('seedFromString', () => {
  it('gives a stable 32-bit seed per string', () => {
    expect(seedFromString('run/iter-1/batch-0')).toBe(seedFromString('run/iter-1/batch-0'));
    expect(seedFromString('run/iter-1/batch-0')).not.toBe(seedFromString('run/iter-1/batch-1'));
    expect(seedFromString('')).toBe(0x811c9dc5);
  });
});
