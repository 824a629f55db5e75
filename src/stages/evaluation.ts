/**
 * The first evaluation: 24 prompts with verifiable instructions in the style of IFEval (word limits,
 * keywords, formats, casing, …), scored strictly: a check passes only if the raw response satisfies it.
 * Items are plain JSON (a check is data), and checkResponse is deterministic.
 */

export type Check =
  /** At most n words (words are runs of letters, digits and underscores). */
  | { kind: 'max_words'; n: number }
  /** At least n words. */
  | { kind: 'min_words'; n: number }
  /** Every word or phrase appears (whole words, any case). */
  | { kind: 'keywords'; words: string[] }
  /** None of the words or phrases appears (whole words, any case). */
  | { kind: 'forbidden_words'; words: string[] }
  /** The word appears at least `min` times (whole word, any case). */
  | { kind: 'keyword_frequency'; word: string; min: number }
  /** The whole response is valid JSON (a surrounding ``` or ```json fence is allowed, as in IFEval). */
  | { kind: 'json' }
  /** No comma anywhere. */
  | { kind: 'no_commas' }
  /** Exactly n markdown bullets: lines starting with `* ` or `-` (IFEval's rule). */
  | { kind: 'bullet_count'; n: number }
  /** Has letters, and none of them is upper case. */
  | { kind: 'lowercase' }
  /** Has letters, and none of them is lower case. */
  | { kind: 'uppercase' }
  /** Ends with the phrase (whitespace and surrounding double quotes aside, any case). */
  | { kind: 'ends_with'; phrase: string }
  /** The first word is this word (any case, leading punctuation aside). */
  | { kind: 'starts_with'; word: string }
  /** Exactly n non-empty paragraphs separated by the markdown divider *** (IFEval's rule). */
  | { kind: 'paragraphs'; n: number }
  /** Contains a title in double angular brackets, <<like this>>. */
  | { kind: 'title' }
  /** Contains a postscript starting with the marker (e.g. "P.S.") at the start of a line. */
  | { kind: 'postscript'; marker: string }
  /** Starts by repeating this text word for word (any case). */
  | { kind: 'repeat_prompt'; text: string }
  /** At least n placeholders in square brackets, [like this]. */
  | { kind: 'placeholders'; n: number }
  /** At least n sections highlighted with markdown, *like this*. */
  | { kind: 'highlighted_sections'; n: number }
  /** The whole response is wrapped in double quotation marks. */
  | { kind: 'quotation' };

export interface EvalItem {
  id: string;
  prompt: string;
  checks: Check[];
}

/** Whether `response` satisfies `check`, strictly (the response as given, no cleaning). */
export function checkResponse(check: Check, response: string): boolean {
  switch (check.kind) {
    case 'max_words':
      return countWords(response) <= check.n;
    case 'min_words':
      return countWords(response) >= check.n;
    case 'keywords':
      return check.words.every((word) => countOccurrences(response, word) > 0);
    case 'forbidden_words':
      return check.words.every((word) => countOccurrences(response, word) === 0);
    case 'keyword_frequency':
      return countOccurrences(response, check.word) >= check.min;
    case 'json':
      return isJson(response);
    case 'no_commas':
      return !response.includes(',');
    case 'bullet_count':
      return countBullets(response) === check.n;
    case 'lowercase':
      return /\p{L}/u.test(response) && response === response.toLowerCase();
    case 'uppercase':
      return /\p{L}/u.test(response) && response === response.toUpperCase();
    case 'ends_with':
      return stripQuotes(response.trim()).toLowerCase().endsWith(check.phrase.trim().toLowerCase());
    case 'starts_with': {
      const first = /[\p{L}\p{N}_'-]+/u.exec(response.trimStart().replace(/^[^\p{L}\p{N}]+/u, ''));
      return first !== null && first.index === 0 && first[0].toLowerCase() === check.word.toLowerCase();
    }
    case 'paragraphs':
      return countDividedParagraphs(response) === check.n;
    case 'title':
      return /<<[^\n]+>>/.test(response);
    case 'postscript':
      return new RegExp(`^\\s*${markerPattern(check.marker)}.*$`, 'mi').test(response);
    case 'repeat_prompt':
      return response.trim().toLowerCase().startsWith(check.text.trim().toLowerCase());
    case 'placeholders':
      return (response.match(/\[[^\]]*\]/g) ?? []).length >= check.n;
    case 'highlighted_sections':
      return countHighlights(response) >= check.n;
    case 'quotation': {
      const trimmed = response.trim();
      return trimmed.length > 1 && trimmed.startsWith('"') && trimmed.endsWith('"');
    }
  }
}

function countWords(text: string): number {
  return (text.match(/[\p{L}\p{N}_]+/gu) ?? []).length;
}

/** Whole-word occurrences of a word or phrase (spaces in the phrase match any whitespace), any case. */
function countOccurrences(text: string, word: string): number {
  const body = word.trim().split(/\s+/).map(escapeRegExp).join('\\s+');
  return (text.match(new RegExp(`(?<![\\p{L}\\p{N}_])${body}(?![\\p{L}\\p{N}_])`, 'giu')) ?? []).length;
}

function isJson(response: string): boolean {
  const body = response
    .trim()
    .replace(/^```(?:json)?/i, '')
    .replace(/```$/, '')
    .trim();
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** IFEval: lines matching `^\s*\*[^*].*$` or `^\s*-.*$`. */
function countBullets(response: string): number {
  return response.split('\n').filter((line) => /^\s*\*[^*]/.test(line) || /^\s*-/.test(line)).length;
}

/** IFEval: split on `\s?\*\*\*\s?`; an empty paragraph is allowed only at the start or the end. */
function countDividedParagraphs(response: string): number {
  const parts = response.split(/\s?\*\*\*\s?/);
  let count = parts.length;
  for (let i = 0; i < parts.length; i++) {
    if ((parts[i] as string).trim() === '') {
      if (i === 0 || i === parts.length - 1) count--;
      else return -1;
    }
  }
  return count;
}

/** IFEval: *text* and **text** on one line with non-blank text. */
function countHighlights(response: string): number {
  let count = 0;
  for (const match of response.match(/\*[^\n*]*\*/g) ?? []) if (match.slice(1, -1).trim() !== '') count++;
  for (const match of response.match(/\*\*[^\n*]*\*\*/g) ?? []) if (match.slice(2, -2).trim() !== '') count++;
  return count;
}

/** "P.S." matches "P.S.", "p.s." and "P. S."; other markers match literally, any case. */
function markerPattern(marker: string): string {
  return marker
    .trim()
    .split('')
    .map((ch) => (ch === '.' ? '\\.\\s?' : escapeRegExp(ch)))
    .join('')
    .replace(/\\s\?$/, '');
}

function stripQuotes(text: string): string {
  return text.replace(/^"+|"+$/g, '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface ItemScore {
  id: string;
  /** One entry per check, in order. */
  passed: boolean[];
  allPassed: boolean;
}

export interface EvaluationScore {
  /** Fraction of prompts whose checks all pass (IFEval prompt-level strict accuracy). */
  promptStrict: number;
  /** Fraction of all checks that pass (IFEval instruction-level strict accuracy). */
  instructionStrict: number;
  perItem: ItemScore[];
}

/** Scores responses (a missing response counts as '', failing most checks). */
export function scoreEvaluation(
  items: readonly EvalItem[],
  responsesById: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
): EvaluationScore {
  const responseOf = (id: string): string =>
    (responsesById instanceof Map ? responsesById.get(id) : (responsesById as Record<string, string>)[id]) ?? '';
  const perItem = items.map((item) => {
    const response = responseOf(item.id);
    const passed = item.checks.map((check) => checkResponse(check, response));
    return { id: item.id, passed, allPassed: passed.every(Boolean) };
  });
  const checks = perItem.flatMap((item) => item.passed);
  return {
    promptStrict: perItem.length === 0 ? 0 : perItem.filter((item) => item.allPassed).length / perItem.length,
    instructionStrict: checks.length === 0 ? 0 : checks.filter(Boolean).length / checks.length,
    perItem,
  };
}

/** The 24 prompts of the first evaluation. */
export const EVAL_ITEMS: readonly EvalItem[] = [
  {
    id: 'eval-01',
    prompt: 'Describe the water cycle for a ten-year-old in at most 60 words.',
    checks: [{ kind: 'max_words', n: 60 }],
  },
  {
    id: 'eval-02',
    prompt: 'Write a short essay of at least 250 words about why public libraries still matter.',
    checks: [{ kind: 'min_words', n: 250 }],
  },
  {
    id: 'eval-03',
    prompt: 'Write a product description for a reusable water bottle. Include the words "insulated" and "leak-proof".',
    checks: [{ kind: 'keywords', words: ['insulated', 'leak-proof'] }],
  },
  {
    id: 'eval-04',
    prompt: 'Explain how a bicycle gear system works without using the words "chain" or "pedal".',
    checks: [{ kind: 'forbidden_words', words: ['chain', 'pedal'] }],
  },
  {
    id: 'eval-05',
    prompt:
      'Give the name, capital and approximate population of three European countries. Your entire output must be valid JSON.',
    checks: [{ kind: 'json' }],
  },
  {
    id: 'eval-06',
    prompt: 'Tell a short story about a lighthouse keeper who finds a message in a bottle. Do not use any commas.',
    checks: [{ kind: 'no_commas' }],
  },
  {
    id: 'eval-07',
    prompt:
      'List the benefits of learning a second language. Your answer must contain exactly 4 bullet points in markdown, such as:\n* This is a point.',
    checks: [{ kind: 'bullet_count', n: 4 }],
  },
  {
    id: 'eval-08',
    prompt: 'Write a haiku about autumn rain. Your entire response must be in lowercase letters; no capital letters are allowed.',
    checks: [{ kind: 'lowercase' }],
  },
  {
    id: 'eval-09',
    prompt: 'Write a two-sentence motivational message for a marathon runner, entirely in capital letters.',
    checks: [{ kind: 'uppercase' }],
  },
  {
    id: 'eval-10',
    prompt: 'Write a thank-you note to a neighbour who watered your plants. End your response with the exact phrase "See you soon!"',
    checks: [{ kind: 'ends_with', phrase: 'See you soon!' }],
  },
  {
    id: 'eval-11',
    prompt: 'Explain what a compiler does. The very first word of your response must be "Imagine".',
    checks: [{ kind: 'starts_with', word: 'Imagine' }],
  },
  {
    id: 'eval-12',
    prompt:
      'Write about the history of tea in exactly 3 paragraphs. Separate the paragraphs with the markdown divider: ***',
    checks: [{ kind: 'paragraphs', n: 3 }],
  },
  {
    id: 'eval-13',
    prompt: 'Write a short poem about the sea. Give it a title wrapped in double angular brackets, such as <<title>>.',
    checks: [{ kind: 'title' }],
  },
  {
    id: 'eval-14',
    prompt: 'Write an email inviting your team to a Friday lunch. At the end, add a postscript starting with P.S.',
    checks: [{ kind: 'postscript', marker: 'P.S.' }],
  },
  {
    id: 'eval-15',
    prompt:
      'First repeat the request word for word without change, then give your answer. Request: What are three ways to reduce food waste at home?',
    checks: [{ kind: 'repeat_prompt', text: 'What are three ways to reduce food waste at home?' }],
  },
  {
    id: 'eval-16',
    prompt:
      'Write a template for a job offer letter. Include at least 3 placeholders in square brackets, such as [candidate name].',
    checks: [{ kind: 'placeholders', n: 3 }],
  },
  {
    id: 'eval-17',
    prompt: 'Summarize the causes of the French Revolution. Highlight at least 2 sections with markdown, i.e. *highlighted section*.',
    checks: [{ kind: 'highlighted_sections', n: 2 }],
  },
  {
    id: 'eval-18',
    prompt: 'What would a cat say about Mondays? Wrap your entire response in double quotation marks.',
    checks: [{ kind: 'quotation' }],
  },
  {
    id: 'eval-19',
    prompt: 'Write a paragraph about the planet Mars in which the word "red" appears at least 3 times.',
    checks: [{ kind: 'keyword_frequency', word: 'red', min: 3 }],
  },
  {
    id: 'eval-20',
    prompt:
      'Give advice to a student preparing for a math exam in at most 80 words, and do not use any commas in your response.',
    checks: [
      { kind: 'max_words', n: 80 },
      { kind: 'no_commas' },
    ],
  },
  {
    id: 'eval-21',
    prompt:
      'Write a limerick about a forgetful robot. Your entire response should be in lowercase letters, and it must include the word "battery".',
    checks: [
      { kind: 'lowercase' },
      { kind: 'keywords', words: ['battery'] },
    ],
  },
  {
    id: 'eval-22',
    prompt:
      'Describe your ideal weekend in exactly 3 bullet points using markdown, such as:\n* This is a point.\nEnd your response with the phrase "That is all."',
    checks: [
      { kind: 'bullet_count', n: 3 },
      { kind: 'ends_with', phrase: 'That is all.' },
    ],
  },
  {
    id: 'eval-23',
    prompt:
      'Write a blog post about remote work with a title in double angular brackets, such as <<my title>>, of at least 150 words.',
    checks: [
      { kind: 'title' },
      { kind: 'min_words', n: 150 },
    ],
  },
  {
    id: 'eval-24',
    prompt:
      'Return a JSON object describing a fictional book with the keys "title", "author" and "year". Do not use the word "novel" anywhere in your response.',
    checks: [
      { kind: 'json' },
      { kind: 'forbidden_words', words: ['novel'] },
    ],
  },
];
