/**
 * Step 4 of I-SHEEP, the rule filter on (instruction, input, response) pairs. Each rule is named and can be
 * switched off; a pair is dropped by the first enabled rule that matches, in the order of RULES.
 */
import type { Counted, Pair } from './types.js';
import { zeroCounts } from './types.js';

export const RULES = [
  'empty_response',
  'fake_dialogue_turn',
  'asks_user_back',
  'multiple_choice',
  'placeholder_input',
  'input_in_instruction',
] as const;
export type Rule = (typeof RULES)[number];

type PairText = Pick<Pair, 'instruction' | 'input' | 'response'>;

/** The response is empty or whitespace. */
export function isEmptyResponse(pair: PairText): boolean {
  return pair.response.trim() === '';
}

/**
 * The response starts a new dialogue turn: a newline, optional markdown (`#`, `*`, `>`, `-`, `_`), then
 * assistant:/user:/human:/system:/question:/output: in any case.
 */
const FAKE_TURN = /\n[ \t#*>_-]*(?:assistant|user|human|system|question|output)[ \t*_]*:/i;
export function hasFakeDialogueTurn(pair: PairText): boolean {
  return FAKE_TURN.test(pair.response);
}

/**
 * Phrases with which a response asks the user for something instead of answering.
 * Only the response's first paragraph (up to the first blank line, at most 400 characters) is checked,
 * and not when that paragraph is a list item or a quotation: asking back happens up front, while lists
 * of questions ("1. Could you describe …?") and dialogue in stories are legitimate answers, and a closing
 * offer ("Would you like me to …?") follows an answer that was given.
 */
const ASKS_BACK = [
  /\b(?:could|can|would|will) you (?:please |kindly )?(?:provide|give me|share|tell me|specify|clarify|send|paste|supply|confirm|elaborate|describe what|explain what|let me know)\b/i,
  /\bwhat (?:exactly |specifically )?(?:would|do|did) you (?:like|want|need|prefer|mean|have in mind)\b/i,
  /\b(?:which|what) (?:\w+ ){0,3}(?:are|were|do|did|would|should) you (?:referring|mean|want|like|prefer|have in mind)\b/i,
  /\b(?:do|would) you (?:want|like) me to\b/i,
  /\bplease (?:provide|specify|share|clarify|send|paste|supply|give me|tell me)\b/i,
  /\b(?:i|we) (?:would )?(?:need|require) (?:a bit |some )?(?:more|additional|further) (?:information|details|context)\b/i,
  /\byou (?:haven't|have not|didn't|did not) (?:provided|provide|specified|specify|given|give|included|include)\b/i,
];
export function asksUserBack(pair: PairText): boolean {
  const firstParagraph = (pair.response.trim().split(/\n\s*\n/)[0] ?? '').slice(0, 400);
  if (/^\s*(?:[-*•]|\d+[.)]|["“'])/.test(firstParagraph)) return false;
  return ASKS_BACK.some((pattern) => pattern.test(firstParagraph));
}

/**
 * The response is a multiple-choice list: options A, B and C (or a, b, c) each marked `A)`, `A.`, `A:` or
 * `(A)`, either at line starts or inline, in that order.
 */
const OPTION = (letter: string): string => `(?:\\(${letter}\\)|${letter}[).:])`;
const MC_LINES = new RegExp(
  `(?:^|\\n)[ \\t]*${OPTION('[Aa]')}[ \\t]+\\S[^]*?\\n[ \\t]*${OPTION('[Bb]')}[ \\t]+\\S[^]*?\\n[ \\t]*${OPTION('[Cc]')}[ \\t]+\\S`,
);
const MC_INLINE = new RegExp(`(?:^|\\s)${OPTION('[Aa]')} \\S[^\\n]*?\\s${OPTION('[Bb]')} \\S[^\\n]*?\\s${OPTION('[Cc]')} \\S`);
export function isMultipleChoice(pair: PairText): boolean {
  return MC_LINES.test(pair.response) || MC_INLINE.test(pair.response);
}

/**
 * A field is a placeholder when, trimmed and without a final period, it is one of 'no input' (optionally
 * '… required/needed/provided'), 'noinput', 'none', 'n/a', 'na', 'null', 'nil', 'empty', '-'; or is a
 * single `<…>` tag; or contains a template slot such as `<noinput>`, `<input>`, `<insert …>`, `<your …>`,
 * `[insert …]`.
 */
const PLACEHOLDER_WHOLE = /^(?:no ?input(?: (?:required|needed|provided))?|none|n\/a|na|null|nil|empty|-+|<[^<>]*>)$/i;
const PLACEHOLDER_SLOT = /<\s*(?:no ?input|input|none|insert\b[^<>]*|your\b[^<>]*|placeholder[^<>]*)\s*>|\[\s*(?:insert|your)\b[^\]]*\]/i;
export function isPlaceholder(field: string): boolean {
  const v = field.trim().replace(/\.$/, '').trim();
  if (v === '') return false;
  return PLACEHOLDER_WHOLE.test(v) || PLACEHOLDER_SLOT.test(v);
}
export function hasPlaceholderInput(pair: PairText): boolean {
  return isPlaceholder(pair.instruction) || isPlaceholder(pair.input);
}

/** The input is non-empty and appears verbatim in the instruction (case and spacing aside). */
export function hasInputInInstruction(pair: PairText): boolean {
  const input = squash(pair.input);
  return input !== '' && squash(pair.instruction).includes(input);
}

function squash(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

export const RULE_CHECKS: Record<Rule, (pair: PairText) => boolean> = {
  empty_response: isEmptyResponse,
  fake_dialogue_turn: hasFakeDialogueTurn,
  asks_user_back: asksUserBack,
  multiple_choice: isMultipleChoice,
  placeholder_input: hasPlaceholderInput,
  input_in_instruction: hasInputInInstruction,
};

/** The first enabled rule `pair` breaks, or null. */
export function firstBrokenRule(pair: PairText, enabled: readonly Rule[] = RULES): Rule | null {
  for (const rule of RULES) {
    if (enabled.includes(rule) && RULE_CHECKS[rule](pair)) return rule;
  }
  return null;
}

/** Keeps the pairs no enabled rule drops; counts each drop under the first rule that matched. */
export function applyRuleFilter<T extends PairText>(pairs: readonly T[], enabledRules: readonly Rule[] = RULES): Counted<T, Rule> {
  const dropped = zeroCounts(RULES);
  const kept: T[] = [];
  for (const pair of pairs) {
    const rule = firstBrokenRule(pair, enabledRules);
    if (rule === null) kept.push(pair);
    else dropped[rule]++;
  }
  return { kept, dropped };
}
