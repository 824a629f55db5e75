/**
 * ROUGE-L F1 as Google's `rouge-score` package computes it with use_stemmer=False, and an index that
 * finds near-duplicate instructions among many thousands quickly.
 *
 * Tokenizer (rouge_score/tokenize.py, no stemmer): lower-case the text, replace every run of characters
 * outside [a-z0-9] with a space, split on whitespace, keep the non-empty tokens. So "don't" is two
 * tokens ("don", "t"), and accented or non-Latin letters are separators.
 * Score: LCS of the two token sequences; precision = LCS/|prediction|, recall = LCS/|target|,
 * F1 = 2PR/(P+R); all three are 0 when either side has no tokens or the LCS is 0.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** rouge-score's default tokens of `text` (no stemming). */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((token) => token.length > 0);
}

/** ROUGE-L between a target (reference) and a prediction, as `RougeScorer(['rougeL']).score(target, prediction)`. */
export function rougeL(target: string, prediction: string): RougeScore {
  const vocab = new Vocabulary();
  return rougeLFromIds(vocab.ids(rougeTokens(target)), vocab.ids(rougeTokens(prediction)));
}

/** ROUGE-L on token-id sequences (ids from one Vocabulary). */
export function rougeLFromIds(target: ArrayLike<number>, prediction: ArrayLike<number>): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(target, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** rouge_score.scoring.fmeasure, with the same operation order so results agree to the last bit. */
export function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** ROUGE-L F1 from an LCS length and the two sequence lengths (symmetric in the two). */
export function f1FromLcs(lcs: number, lengthA: number, lengthB: number): number {
  if (lengthA === 0 || lengthB === 0) return 0;
  return fmeasure(lcs / lengthB, lcs / lengthA);
}

/** Slack added to upper bounds so float rounding can never prune a candidate that truly exceeds the bar. */
const BOUND_SLACK = 1e-9;

/** Interns tokens to small integer ids so sequences compare as numbers. */
export class Vocabulary {
  private readonly idOf = new Map<string, number>();

  id(token: string): number {
    let id = this.idOf.get(token);
    if (id === undefined) {
      id = this.idOf.size;
      this.idOf.set(token, id);
    }
    return id;
  }

  ids(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.id(tokens[i] as string);
    return out;
  }

  /** The id of a token already seen, or -1 (a token never seen matches nothing). */
  lookup(token: string): number {
    return this.idOf.get(token) ?? -1;
  }
}

/**
 * Bit-parallel LCS (Allison–Dix / Hyyrö): `pattern` is turned into one bit mask per distinct token, then
 * each token of a text updates a bit vector V in a few word operations: V' = (V + (V & M)) | (V & ~M).
 * The LCS is the number of zero bits among the pattern's positions. Multi-word, 32 bits per word.
 */
export class LcsPattern {
  readonly length: number;
  private readonly words: number;
  private readonly masks = new Map<number, Uint32Array>();
  private readonly v: Uint32Array;

  constructor(pattern: ArrayLike<number>) {
    this.length = pattern.length;
    this.words = Math.max(1, Math.ceil(pattern.length / 32));
    this.v = new Uint32Array(this.words);
    for (let i = 0; i < pattern.length; i++) {
      const token = pattern[i] as number;
      let mask = this.masks.get(token);
      if (mask === undefined) {
        mask = new Uint32Array(this.words);
        this.masks.set(token, mask);
      }
      mask[i >>> 5] = ((mask[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
    }
  }

  /** Length of the longest common subsequence of the pattern and `text`. */
  lcs(text: ArrayLike<number>): number {
    const v = this.v;
    const words = this.words;
    v.fill(0xffffffff);
    for (let j = 0; j < text.length; j++) {
      const mask = this.masks.get(text[j] as number);
      if (mask === undefined) continue; // no match: V is unchanged
      let carry = 0;
      for (let w = 0; w < words; w++) {
        const vw = v[w] as number;
        const u = (vw & (mask[w] as number)) >>> 0;
        const sum = vw + u + carry;
        carry = sum > 0xffffffff ? 1 : 0;
        v[w] = ((sum >>> 0) | (vw & ~u)) >>> 0;
      }
    }
    let zeros = 0;
    for (let i = 0; i < this.length; i++) {
      if ((((v[i >>> 5] as number) >>> (i & 31)) & 1) === 0) zeros++;
    }
    return zeros;
  }
}

/** LCS length of two token-id sequences (bit-parallel on the shorter one). */
export function lcsLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 || b.length === 0) return 0;
  return a.length <= b.length ? new LcsPattern(a).lcs(b) : new LcsPattern(b).lcs(a);
}

/** The textbook single-row dynamic programme; slower, kept as the reference the tests compare against. */
export function lcsLengthDp(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = 0; // row[j-1] of the previous row
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = a[i - 1] === b[j - 1] ? diagonal + 1 : Math.max(above, row[j - 1] as number);
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The paper's near-duplicate threshold: ROUGE-L F1 strictly greater than this is a near-duplicate. */
export const NEAR_DUPLICATE_THRESHOLD = 0.7;

/**
 * Everything accepted so far (the seed pool, then each accepted instruction), searchable by ROUGE-L F1.
 *
 * A query is compared exactly only with entries that could beat the bar, using two upper bounds on F1:
 * the length bound 2·min(la, lb)/(la + lb), and the bag-of-tokens bound 2·overlap/(la + lb) where
 * overlap = Σ_token min(count in a, count in b) ≥ LCS. Overlaps are gathered through an inverted index,
 * so entries sharing no token with the query are never visited.
 */
export class DedupIndex {
  private readonly vocab = new Vocabulary();
  private readonly docs: Int32Array[] = [];
  /** token id → flat list of (doc index, count) pairs. */
  private readonly postings: number[][] = [];
  private overlap = new Int32Array(64);
  private readonly normalized = new Set<string>();

  constructor(texts: Iterable<string> = []) {
    for (const text of texts) this.add(text);
  }

  /** Number of texts added. */
  get size(): number {
    return this.docs.length;
  }

  add(text: string): void {
    const ids = this.vocab.ids(rougeTokens(text));
    const docIndex = this.docs.length;
    this.docs.push(ids);
    this.normalized.add(normalizeForExactMatch(text));
    for (const [token, count] of countTokens(ids)) {
      let list = this.postings[token];
      if (list === undefined) {
        list = [];
        this.postings[token] = list;
      }
      list.push(docIndex, count);
    }
    if (this.overlap.length < this.docs.length) {
      const grown = new Int32Array(this.overlap.length * 2);
      grown.set(this.overlap);
      this.overlap = grown;
    }
  }

  /** Whether this exact text (case and spacing aside) was added. */
  hasExact(text: string): boolean {
    return this.normalized.has(normalizeForExactMatch(text));
  }

  /** The highest ROUGE-L F1 of `text` against everything added (0 when the index is empty). */
  maxSimilarity(text: string): number {
    return this.search(text, -1, false);
  }

  /** Whether some added text has ROUGE-L F1 > threshold with `text`. */
  isNearDuplicate(text: string, threshold: number = NEAR_DUPLICATE_THRESHOLD): boolean {
    return this.search(text, threshold, true) > threshold;
  }

  /**
   * Best F1 against the index, considering only entries whose bounds exceed max(bar, best so far).
   * With stopAbove, returns as soon as an F1 > bar is found.
   */
  private search(text: string, bar: number, stopAbove: boolean): number {
    const tokens = rougeTokens(text);
    const queryLength = tokens.length;
    if (queryLength === 0 || this.docs.length === 0) return 0;
    // Tokens never added cannot match; -1 keeps the query's length right without touching postings.
    const query = Int32Array.from(tokens, (token) => this.vocab.lookup(token));

    const overlap = this.overlap;
    const touched: number[] = [];
    for (const [token, queryCount] of countTokens(query)) {
      if (token < 0) continue;
      const list = this.postings[token];
      if (list === undefined) continue;
      for (let i = 0; i < list.length; i += 2) {
        const doc = list[i] as number;
        if (overlap[doc] === 0) touched.push(doc);
        overlap[doc] = (overlap[doc] as number) + Math.min(queryCount, list[i + 1] as number);
      }
    }

    // Visit the most promising candidates first so the running best prunes the rest sooner.
    const candidates: { doc: number; bound: number }[] = [];
    for (const doc of touched) {
      const docLength = (this.docs[doc] as Int32Array).length;
      const most = Math.min(overlap[doc] as number, queryLength, docLength);
      const bound = (2 * most) / (queryLength + docLength) + BOUND_SLACK;
      overlap[doc] = 0;
      if (bound > bar) candidates.push({ doc, bound });
    }
    candidates.sort((x, y) => y.bound - x.bound);

    let best = 0;
    let pattern: LcsPattern | undefined;
    for (const { doc, bound } of candidates) {
      if (bound <= best || bound <= bar) break;
      pattern ??= new LcsPattern(query);
      const docIds = this.docs[doc] as Int32Array;
      const f1 = f1FromLcs(pattern.lcs(docIds), queryLength, docIds.length);
      if (f1 > best) {
        best = f1;
        if (stopAbove && best > bar) return best;
      }
    }
    return best;
  }
}

function countTokens(ids: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function normalizeForExactMatch(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}
