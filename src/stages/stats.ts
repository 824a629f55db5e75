/**
 * Honest numbers for evaluation figures: every estimate with its n and a 95% interval, so that one prompt
 * flipping is not read as a gain.
 *   proportion(k, n)          Wilson score interval for a rate (accuracy, pass@1): good at small n and near 0 or 1
 *   meanWithInterval(xs, seed) the mean with a percentile bootstrap interval (seeded, so a report is reproducible)
 *   pairedDelta(a, b, seed)   the mean difference of two scorings of the same items, bootstrap over items
 */
import { createRng } from './rng.js';

/** A figure: the estimate, its 95% interval and the number of items behind it. */
export interface Estimate {
  value: number;
  low: number;
  high: number;
  n: number;
}

export const Z95 = 1.959963984540054;
const BOOTSTRAP_SAMPLES = 2000;

/** k successes in n trials, with the Wilson score interval. */
export function proportion(k: number, n: number): Estimate {
  if (n === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN, n: 0 };
  const p = k / n;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At k = 0 and k = n the bounds are exactly 0 and 1; rounding would put them a hair inside.
  return { value: p, low: k === 0 ? 0 : Math.max(0, centre - half), high: k === n ? 1 : Math.min(1, centre + half), n };
}

/** The mean of `xs` with a 95% percentile bootstrap interval. */
export function meanWithInterval(xs: readonly number[], seed = 0): Estimate {
  const n = xs.length;
  if (n === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN, n: 0 };
  const means = bootstrapMeans(xs, seed);
  return { value: mean(xs), low: quantile(means, 0.025), high: quantile(means, 0.975), n };
}

/**
 * The mean of b[i] - a[i] over items scored both ways (e.g. iteration t vs the base model on the same prompts),
 * with a bootstrap interval over items: pairing removes the items' own difficulty from the noise.
 */
export function pairedDelta(a: readonly number[], b: readonly number[], seed = 0): Estimate {
  if (a.length !== b.length) throw new Error(`pairedDelta: ${a.length} items against ${b.length}`);
  return meanWithInterval(
    b.map((x, i) => x - a[i]!),
    seed,
  );
}

function bootstrapMeans(xs: readonly number[], seed: number): number[] {
  const rng = createRng(seed);
  const n = xs.length;
  const means = new Array<number>(BOOTSTRAP_SAMPLES);
  for (let s = 0; s < BOOTSTRAP_SAMPLES; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += xs[rng.int(n)]!;
    means[s] = sum / n;
  }
  return means.sort((x, y) => x - y);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Linear interpolation between order statistics of a sorted array (numpy's default). */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** "41.2% [37.1, 45.4] (n=541)" for rates; `digits` and `percent` for other scales. */
export function formatEstimate(e: Estimate, opts: { percent?: boolean; digits?: number } = {}): string {
  const percent = opts.percent ?? true;
  const digits = opts.digits ?? 1;
  if (e.n === 0 || Number.isNaN(e.value)) return '–';
  const f = (x: number) => (percent ? (100 * x).toFixed(digits) : x.toFixed(digits));
  return `${f(e.value)}${percent ? '%' : ''} [${f(e.low)}, ${f(e.high)}] (n=${e.n})`;
}
