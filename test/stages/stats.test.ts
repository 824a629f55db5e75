import { describe, expect, it } from 'vitest';
import { formatEstimate, meanWithInterval, pairedDelta, proportion } from '../../src/stages/stats.js';

describe('proportion (Wilson score interval)', () => {
  it('matches the closed form at known points', () => {
    const half = proportion(5, 10);
    expect(half.value).toBe(0.5);
    expect(half.low).toBeCloseTo(0.2366, 4);
    expect(half.high).toBeCloseTo(0.7634, 4);
    const none = proportion(0, 10);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(3.8415 / 13.8415, 4); // z²/(n+z²)
    expect(proportion(10, 10).high).toBe(1);
  });

  it('says nothing for no items', () => {
    expect(formatEstimate(proportion(0, 0))).toBe('–');
  });
});

describe('bootstrap intervals', () => {
  it('are reproducible, contain the mean, and narrow as n grows', () => {
    const xs = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const a = meanWithInterval(xs, 7);
    expect(meanWithInterval(xs, 7)).toEqual(a);
    expect(a.low).toBeLessThan(a.value);
    expect(a.high).toBeGreaterThan(a.value);
    const big = meanWithInterval([...xs, ...xs, ...xs, ...xs], 7);
    expect(big.high - big.low).toBeLessThan(a.high - a.low);
    expect(meanWithInterval([8, 8, 8], 1)).toEqual({ value: 8, low: 8, high: 8, n: 3 });
  });

  it('pairs items: a constant gain has a zero-width interval whatever the items\' spread', () => {
    const base = [1, 9, 3, 7, 5, 2, 8];
    const d = pairedDelta(base, base.map((x) => x + 0.5), 3);
    expect(d).toEqual({ value: 0.5, low: 0.5, high: 0.5, n: 7 });
    expect(() => pairedDelta([1], [1, 2])).toThrow(/1 items against 2/);
  });

  it('formats rates and scores', () => {
    expect(formatEstimate(proportion(5, 10))).toBe('50.0% [23.7, 76.3] (n=10)');
    expect(formatEstimate({ value: 6.25, low: 5.5, high: 7, n: 80 }, { percent: false, digits: 2 })).toBe('6.25 [5.50, 7.00] (n=80)');
  });
});
