/**
 * Step 2 of I-SHEEP, the instruction filters. Each candidate is checked by the named filters in the order
 * of INSTRUCTION_FILTERS; the first that matches drops it and is counted. Survivors are added to the
 * caller's DedupIndex, so later candidates are compared with them too (the whole iteration, not one call).
 */
import { DedupIndex, NEAR_DUPLICATE_THRESHOLD } from './rouge.js';
import { zeroCounts } from './types.js';

/**
 * The names of the filters, in the order they are applied (cheap ones first, ROUGE-L last).
 * An instruction already in the index (case and spacing aside) counts as exact_duplicate whatever else
 * is wrong with it, so repeats are reported as repeats.
 */
export const INSTRUCTION_FILTERS = [
  'empty_instruction',
  'exact_duplicate',
  'too_short',
  'too_long',
  'bad_start',
  'url',
  'blacklisted',
  'near_duplicate',
] as const;
export type InstructionFilter = (typeof INSTRUCTION_FILTERS)[number];

/** Paper: keep instructions of more than 3 words … */
export const MIN_WORDS_EXCLUSIVE = 3;
/** … and at most 150 words. */
export const MAX_WORDS = 150;
/** Words and phrases naming what a text-only model cannot handle (whole words, any case). */
export const BLACKLIST: readonly string[] = [
  'image',
  'images',
  'graph',
  'graphs',
  'picture',
  'pictures',
  'file',
  'files',
  'map',
  'maps',
  'draw',
  'plot',
  'go to',
  'video',
  'audio',
  'music',
  'flowchart',
  'diagram',
  'diagrams',
];

export interface InstructionFilterConfig {
  /** Drop instructions with this many words or fewer (words split on whitespace). Default 3. */
  minWordsExclusive: number;
  /** Drop instructions with more words than this. Default 150. */
  maxWords: number;
  /** Drop instructions containing one of these as whole words, any case. Default BLACKLIST. */
  blacklist: readonly string[];
  /** Drop instructions whose ROUGE-L F1 with an indexed one is greater than this. Default 0.7. */
  nearDuplicateThreshold: number;
}

export const DEFAULT_INSTRUCTION_FILTER_CONFIG: InstructionFilterConfig = {
  minWordsExclusive: MIN_WORDS_EXCLUSIVE,
  maxWords: MAX_WORDS,
  blacklist: BLACKLIST,
  nearDuplicateThreshold: NEAR_DUPLICATE_THRESHOLD,
};

export interface FilteredInstructions<T> {
  accepted: T[];
  dropped: Record<InstructionFilter, number>;
}

/** Python's string.punctuation: the ASCII punctuation characters. */
const ASCII_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
const URL_PATTERN = /\b(?:https?|ftp):\/\/|\bwww\.[a-z0-9-]+\.[a-z]/i;

/** Number of whitespace-separated words, as Python's str.split(). */
export function wordCount(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

/** True when the first character is ASCII punctuation or not ASCII at all. */
export function hasBadStart(text: string): boolean {
  const first = text.trimStart().codePointAt(0);
  if (first === undefined) return false;
  return first > 0x7f || ASCII_PUNCTUATION.has(String.fromCodePoint(first));
}

export function containsUrl(text: string): boolean {
  return URL_PATTERN.test(text);
}

/** A matcher for whole-word, case-insensitive occurrences of any blacklisted word or phrase. */
export function blacklistMatcher(words: readonly string[]): (text: string) => boolean {
  if (words.length === 0) return () => false;
  const alternatives = words.map((w) => w.trim().split(/\s+/).map(escapeRegExp).join('\\s+'));
  const pattern = new RegExp(`(?<![A-Za-z0-9])(?:${alternatives.join('|')})(?![A-Za-z0-9])`, 'i');
  return (text) => pattern.test(text);
}

/**
 * The first filter, other than the two that need the index, that drops `instruction`, or null.
 * (filterInstructions checks exact_duplicate before these and near_duplicate after them.)
 */
export function staticFilterReason(
  instruction: string,
  cfg: InstructionFilterConfig = DEFAULT_INSTRUCTION_FILTER_CONFIG,
  isBlacklisted: (text: string) => boolean = blacklistMatcher(cfg.blacklist),
): Exclude<InstructionFilter, 'exact_duplicate' | 'near_duplicate'> | null {
  const text = instruction.trim();
  if (text === '') return 'empty_instruction';
  const words = wordCount(text);
  if (words <= cfg.minWordsExclusive) return 'too_short';
  if (words > cfg.maxWords) return 'too_long';
  if (hasBadStart(text)) return 'bad_start';
  if (containsUrl(text)) return 'url';
  if (isBlacklisted(text)) return 'blacklisted';
  return null;
}

/**
 * Filters candidates in order. `index` holds the seed pool and everything accepted earlier in the
 * iteration; each accepted instruction is added to it, so it is compared with later candidates as well.
 * Only the instruction text is compared and filtered; the input rides along.
 */
export function filterInstructions<T extends { instruction: string }>(
  candidates: readonly T[],
  index: DedupIndex,
  cfg: Partial<InstructionFilterConfig> = {},
): FilteredInstructions<T> {
  const config: InstructionFilterConfig = { ...DEFAULT_INSTRUCTION_FILTER_CONFIG, ...cfg };
  const isBlacklisted = blacklistMatcher(config.blacklist);
  const dropped = zeroCounts(INSTRUCTION_FILTERS);
  const accepted: T[] = [];
  for (const candidate of candidates) {
    const instruction = candidate.instruction.trim();
    let reason: InstructionFilter | null = staticFilterReason(instruction, config, isBlacklisted);
    if (reason !== 'empty_instruction' && index.hasExact(instruction)) reason = 'exact_duplicate';
    else if (reason === null && index.isNearDuplicate(instruction, config.nearDuplicateThreshold)) reason = 'near_duplicate';
    if (reason !== null) {
      dropped[reason]++;
      continue;
    }
    accepted.push(candidate);
    index.add(instruction);
  }
  return { accepted, dropped };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
