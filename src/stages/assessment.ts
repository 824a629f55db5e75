/**
 * Step 5 of I-SHEEP, self-assessment: the prompts for the two grading passes and the score parser.
 * The engine renders the returned text as the user message of the grader's chat template and samples
 * one judgment at temperature 1.0.
 */
import { taskText } from './responses.js';
import type { Pair } from './types.js';

export const ASSESSMENT_KINDS = ['quality', 'following'] as const;
/** quality: is the answer correct, succinct, clear, non-redundant; following: does it answer the instruction as asked. */
export type AssessmentKind = (typeof ASSESSMENT_KINDS)[number];

export const ASSESSMENT_VARIANTS = ['simple', 'combined', 'icl'] as const;
/** simple: one short line of criteria; combined (default): full criteria; icl: full criteria after three graded examples. */
export type AssessmentVariant = (typeof ASSESSMENT_VARIANTS)[number];
export const DEFAULT_ASSESSMENT_VARIANT: AssessmentVariant = 'combined';

/** The scale every judgment uses. */
export const SCORE_MIN = 1;
export const SCORE_MAX = 10;
/** Sampling for a judgment (paper): one sample at temperature 1.0. */
export const ASSESSMENT_SAMPLING = { temperature: 1.0, topP: 0.95, maxNewTokens: 256 } as const;

const TOPIC: Record<AssessmentKind, string> = {
  quality: 'the quality of the response',
  following: 'how well the response follows the instruction',
};

const SIMPLE_CRITERIA: Record<AssessmentKind, string> = {
  quality: 'Criteria: a good response is correct, succinct, clear and free of redundancy.',
  following: 'Criteria: a good response answers the instruction directly and in the format it asks for.',
};

const FULL_CRITERIA: Record<AssessmentKind, string> = {
  quality: [
    'Criteria:',
    '- Score 1: the response is incorrect, lengthy, unclear, or redundant.',
    '- Score 10: the response is correct, succinct, clear, and non-redundant.',
    '- Use the scores in between for responses with some of these flaws; the more serious the flaws, the lower the score.',
  ].join('\n'),
  following: [
    'Criteria:',
    '- Score 1: the response continues or restates the instruction instead of answering it, ignores the format the',
    '  instruction requires, or the instruction itself is unclear.',
    '- Score 10: the response answers the instruction directly, follows the required format, and the task is clear.',
    '- Use the scores in between for partial compliance; the further the response strays from the instruction, the lower the score.',
  ].join('\n'),
};

interface GradedExample {
  instruction: string;
  response: string;
  judgment: string;
}

/** Three examples per kind, low, middle and high, shown before the pair in the icl variant. */
const ICL_EXAMPLES: Record<AssessmentKind, GradedExample[]> = {
  quality: [
    {
      instruction: 'How many minutes are there in three and a half hours?',
      response:
        'To answer this we must think about hours and minutes. An hour is a unit of time. There are 60 minutes in an hour, and minutes are also units of time. So three and a half hours is 3.5 times something, which gives 180 minutes.',
      judgment: '2||The answer is wrong (3.5 × 60 = 210) and padded with statements that add nothing.',
    },
    {
      instruction: 'Give one reason why regular exercise is good for sleep.',
      response:
        'Regular exercise helps you fall asleep faster. It tires the body, and physical activity also lowers stress, which helps with sleep, because less stress means it is easier to sleep.',
      judgment: '6||Correct and clear, but it repeats the same point about sleep and gives more than the one reason asked for.',
    },
    {
      instruction: 'What is the capital of Canada?',
      response: 'The capital of Canada is Ottawa.',
      judgment: '10||Correct, clear and as short as the question allows.',
    },
  ],
  following: [
    {
      instruction: 'List three fruits that are high in vitamin C, one per line.',
      response: 'List three vegetables that are high in fiber, one per line.',
      judgment: '1||The response writes another instruction instead of answering this one.',
    },
    {
      instruction: 'Summarize the plot of Romeo and Juliet in exactly two sentences.',
      response:
        'Two young people from feuding families in Verona fall in love and marry in secret. After a chain of misunderstandings, both die. Their deaths finally reconcile the families.',
      judgment: '6||It answers the task but uses three sentences where exactly two were required.',
    },
    {
      instruction: 'Translate "good morning" into Spanish. Reply with the translation only.',
      response: 'Buenos días',
      judgment: '10||It answers directly and follows the required format of giving only the translation.',
    },
  ],
};

function formatSection(instruction: string, response: string): string {
  return `[Instruction]\n${instruction}\n\n[Response]\n${response}`;
}

/**
 * The grading prompt for one pair: the task of rating one aspect on 1–10, the criteria (short for
 * `simple`, full for `combined` and `icl`), for `icl` three graded examples, then the pair, and the
 * required reply format `<score>||<explanation>`.
 */
export function buildAssessmentPrompt(
  kind: AssessmentKind,
  variant: AssessmentVariant,
  pair: Pick<Pair, 'instruction' | 'input' | 'response'>,
): string {
  const parts: string[] = [
    `You will rate ${TOPIC[kind]} to an instruction, on a scale from ${SCORE_MIN} to ${SCORE_MAX}.`,
    variant === 'simple' ? SIMPLE_CRITERIA[kind] : FULL_CRITERIA[kind],
    'Reply on one line in the format <score>||<explanation>: first the score as a whole number from 1 to 10, then two vertical bars, then a one-sentence explanation.',
  ];
  if (variant === 'icl') {
    const examples = ICL_EXAMPLES[kind].map(
      (example, i) => `Example ${i + 1}:\n${formatSection(example.instruction, example.response)}\n\n[Rating]\n${example.judgment}`,
    );
    parts.push(`Here are three rated examples.\n\n${examples.join('\n\n')}`);
  }
  parts.push(`Now rate this one.\n\n${formatSection(taskText(pair), pair.response.trim())}\n\n[Rating]`);
  return parts.join('\n\n');
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

export type ParsedScore = { ok: true; score: number } | { ok: false; reason: 'unparsable' | 'out_of_range' };

/**
 * The leading number of a judgment, strictly. Accepted before the number: whitespace, markdown and
 * bracket decoration (`*`, `_`, `#`, `` ` ``, `"`, `'`, `<`, `[`, `(`), and a label "Score", "Rating" or
 * "Rate", optionally followed by `:` `=` or `-` (label and colon possibly in bold). The number is a whole number, optionally
 * written `8.0` or `8/10`; after it must come the end, a space, `|`, or punctuation — not a letter or digit.
 * Out of 1–10 (0, 11, 100, negatives) → out_of_range; anything else (no leading number, "I would rate this 8",
 * "8.5", "8/9", "7-8", empty) → unparsable.
 */
const LEADING_SCORE =
  /^[\s*_#`"'<[(]*(?:(?:score|rating|rate)\s*[*_]*\s*[:=-]?\s*[*_]*\s*[<[(]?\s*)?(-?)(\d+)(?:\.0+)?(\/10\b)?(?![\dA-Za-z/]|[.,]\d|-\d)/i;

export function parseScore(text: string): ParsedScore {
  const match = LEADING_SCORE.exec(text);
  if (!match) return { ok: false, reason: 'unparsable' };
  const score = Number(match[2]) * (match[1] === '-' ? -1 : 1);
  if (!Number.isInteger(score) || score < SCORE_MIN || score > SCORE_MAX) return { ok: false, reason: 'out_of_range' };
  return { ok: true, score };
}
