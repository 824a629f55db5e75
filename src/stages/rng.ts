/**
 * A small seeded pseudo-random generator (mulberry32), so that every random choice of a run
 * (which demonstrations a synthesis call sees) is reproducible from the seed the workflow passes.
 */

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** k distinct elements of `items` in random order (all of them, shuffled, when k >= length). */
  sample<T>(items: readonly T[], k: number): T[];
}

/** A generator from a 32-bit seed; the same seed always gives the same sequence. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const sample = <T>(items: readonly T[], k: number): T[] => {
    // Partial Fisher–Yates on a copy: the first k slots end up a uniform sample without replacement.
    const pool = items.slice();
    const take = Math.max(0, Math.min(k, pool.length));
    for (let i = 0; i < take; i++) {
      const j = i + int(pool.length - i);
      const picked = pool[j] as T;
      pool[j] = pool[i] as T;
      pool[i] = picked;
    }
    return pool.slice(0, take);
  };
  return { next, int, sample };
}

/** A 32-bit seed from a string (FNV-1a), e.g. seedFromString(`${run}/iter-${t}/batch-${b}`). */
export function seedFromString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
