/**
 * Step 6 of I-SHEEP: keep a pair only if its scores are greater than the threshold C (default 8, so 9 or
 * 10). Which scores count is the paper's ablation `level`: none, quality only, following only, or both.
 */
import { parseScore, SCORE_MAX, SCORE_MIN, type ParsedScore } from './assessment.js';
import type { Pair } from './types.js';
import { zeroCounts } from './types.js';

export const SELECTION_LEVELS = ['none', 'quality', 'following', 'both'] as const;
/** Which grading passes a pair must pass; 'both' is the paper's default. */
export type SelectionLevel = (typeof SELECTION_LEVELS)[number];

/** Paper: keep scores greater than 8. */
export const DEFAULT_SCORE_THRESHOLD = 8;

export const SELECTION_DROP_REASONS = [
  'unparsable_quality',
  'out_of_range_quality',
  'low_quality',
  'unparsable_following',
  'out_of_range_following',
  'low_following',
] as const;
export type SelectionDropReason = (typeof SELECTION_DROP_REASONS)[number];

/** A pair with the grader's raw replies; null where that pass was not run. */
export interface JudgedPair extends Pair {
  qualityJudgment: string | null;
  followingJudgment: string | null;
}

/** A kept pair with its parsed scores (null for a pass that did not count). */
export interface ScoredPair extends Pair {
  qualityScore: number | null;
  followingScore: number | null;
}

export interface SelectionOptions {
  /** Keep scores strictly greater than this (1–10 scale). Default 8. */
  threshold?: number;
  /** Which passes must clear the threshold. Default 'both'. */
  level?: SelectionLevel;
}

export interface SelectionResult {
  kept: ScoredPair[];
  /** Each dropped pair is counted once, under the first failing check: quality before following. */
  dropped: Record<SelectionDropReason, number>;
  /**
   * Score histograms over every pair whose judgment parsed to 1–10, kept or not, for each pass present;
   * index i counts score i + 1 (length 10).
   */
  histograms: { quality: number[]; following: number[] };
}

/** Selects the pairs whose required scores are all greater than the threshold. */
export function selectPairs(pairs: readonly JudgedPair[], opts: SelectionOptions = {}): SelectionResult {
  const threshold = opts.threshold ?? DEFAULT_SCORE_THRESHOLD;
  const level = opts.level ?? 'both';
  const needQuality = level === 'quality' || level === 'both';
  const needFollowing = level === 'following' || level === 'both';
  const dropped = zeroCounts(SELECTION_DROP_REASONS);
  const histograms = { quality: emptyHistogram(), following: emptyHistogram() };
  const kept: ScoredPair[] = [];

  for (const judged of pairs) {
    const quality = judged.qualityJudgment === null ? null : parseScore(judged.qualityJudgment);
    const following = judged.followingJudgment === null ? null : parseScore(judged.followingJudgment);
    if (quality?.ok) (histograms.quality[quality.score - SCORE_MIN] as number)++;
    if (following?.ok) (histograms.following[following.score - SCORE_MIN] as number)++;

    const reason =
      (needQuality ? failure(quality, threshold, 'quality') : null) ??
      (needFollowing ? failure(following, threshold, 'following') : null);
    if (reason !== null) {
      dropped[reason]++;
      continue;
    }
    const { qualityJudgment: _q, followingJudgment: _f, ...pair } = judged;
    kept.push({
      ...pair,
      qualityScore: needQuality && quality?.ok ? quality.score : null,
      followingScore: needFollowing && following?.ok ? following.score : null,
    });
  }
  return { kept, dropped, histograms };
}

/** Why a required pass fails, or null when it clears the threshold. A missing judgment counts as unparsable. */
function failure(parsed: ParsedScore | null, threshold: number, pass: 'quality' | 'following'): SelectionDropReason | null {
  if (parsed === null) return `unparsable_${pass}`;
  if (!parsed.ok) return `${parsed.reason}_${pass}`;
  return parsed.score > threshold ? null : `low_${pass}`;
}

function emptyHistogram(): number[] {
  return new Array<number>(SCORE_MAX - SCORE_MIN + 1).fill(0);
}
