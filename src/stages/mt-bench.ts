/**
 * MT-Bench (Zheng et al. 2023) as pure functions, following FastChat's llm_judge (fastchat/llm_judge/common.py,
 * gen_judgment.py, gen_model_answer.py and show_result.py of fschat 0.2.36; the data files are those of
 * lm-sys/FastChat at 0e6d3e4b, see shared/eval/README.md). Nothing here reads files: callers hand in the text of
 * question.jsonl, reference_answer/gpt-4.jsonl and judge_prompts.jsonl; the judge templates are read from the
 * latter at run time, never copied here.
 *
 * API, in the order a run uses it:
 *
 *   parseMtBenchQuestions(text)             question.jsonl            → MtBenchQuestion[]   (80: ids 81–160)
 *   parseMtBenchReferences(text)            reference_answer/gpt-4.jsonl → MtBenchReference[] (30: ids 101–130)
 *   parseJudgePrompts(text)                 judge_prompts.jsonl       → Record<name, JudgePrompt>
 *   referencesById(references)              → Record<questionId, MtBenchReference>  (duplicate ids throw)
 *
 *   mtBenchMessages(question, turn, { turn1Answer?, system? })  → ChatMessage[]  the model's conversation
 *   mtBenchSampling(category)               → { temperature, doSample, maxNewTokens }  gen_model_answer's settings
 *
 *   judgeTemplateName(category, turn)       → 'single-v1' | 'single-math-v1' | 'single-v1-multi-turn' | 'single-math-v1-multi-turn'
 *   buildJudgeRequest({ question, turn, answers, reference?, judgePrompts })
 *                                           → JudgeRequest { template, system, user, messages }  one single-answer grading
 *   parseRating(judgment)                   → number (the rating; -1 when unparsable, as FastChat records it)
 *   aggregateMtBench(judgments)             → MtBenchSummary  means per turn / category / overall, n, unparsable
 *
 * The judge is called with `messages` (system then user) at temperature 0, max 2048 tokens (JUDGE_SAMPLING).
 * One question yields two judgments: turn 1 (template on the first answer) and turn 2 (the -multi-turn template
 * on the whole two-turn conversation, judging the second answer).
 */
import type { ChatMessage } from './responses.js';

/** The eight MT-Bench categories, 10 questions each, in question.jsonl's order. */
export const MT_BENCH_CATEGORIES = [
  'writing',
  'roleplay',
  'reasoning',
  'math',
  'coding',
  'extraction',
  'stem',
  'humanities',
] as const;
export type MtBenchCategory = (typeof MT_BENCH_CATEGORIES)[number];

/** common.py NEED_REF_CATS: categories graded against the GPT-4 reference answer (reference-guided grading). */
export const NEED_REF_CATS: readonly string[] = ['math', 'reasoning', 'coding', 'arena-hard-200'];

/** common.py temperature_config: the answering model's temperature per category (gen_model_answer.py). */
export const MT_BENCH_TEMPERATURE: Readonly<Record<string, number>> = {
  writing: 0.7,
  roleplay: 0.7,
  extraction: 0.0,
  math: 0.0,
  coding: 0.0,
  reasoning: 0.0,
  stem: 0.1,
  humanities: 0.1,
  'arena-hard-200': 0.0,
};
/** gen_model_answer.py: temperature for a category missing from temperature_config. */
export const MT_BENCH_DEFAULT_TEMPERATURE = 0.7;
/** gen_model_answer.py --max-new-token default. */
export const MT_BENCH_MAX_NEW_TOKENS = 1024;

/** run_judge_single: the judge (gpt-4) is called at temperature 0 with max_tokens 2048. */
export const JUDGE_SAMPLING = { temperature: 0, maxNewTokens: 2048 } as const;

/** The four single-answer grading templates of judge_prompts.jsonl (gen_judgment.py make_judge_single). */
export const SINGLE_JUDGE_TEMPLATES = [
  'single-v1',
  'single-math-v1',
  'single-v1-multi-turn',
  'single-math-v1-multi-turn',
] as const;
export type SingleJudgeTemplate = (typeof SINGLE_JUDGE_TEMPLATES)[number];

export type MtBenchTurn = 1 | 2;

export interface MtBenchQuestion {
  questionId: number;
  category: string;
  /** The two user turns. */
  turns: [string, string];
  /** question.jsonl's own `reference` (on 39 questions). FastChat's single grading does not use it: the judge's
   * reference answers come from reference_answer/gpt-4.jsonl. Kept for completeness. */
  reference?: string[];
}

export interface MtBenchReference {
  questionId: number;
  /** choices[0].turns: the reference answers to turn 1 and turn 2. */
  turns: string[];
}

export interface JudgePrompt {
  name: string;
  type: string;
  systemPrompt: string;
  promptTemplate: string;
  description: string;
  category: string;
  outputFormat: string;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Non-empty lines of a JSONL text, each parsed; a bad line throws naming its line number. */
function jsonLines(text: string, what: string): { line: number; value: Record<string, unknown> }[] {
  const out: { line: number; value: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new Error(`${what} line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${what} line ${i + 1}: not a JSON object`);
    }
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return out;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** question.jsonl: `{question_id, category, turns: [t1, t2], reference?}` per line. */
export function parseMtBenchQuestions(text: string): MtBenchQuestion[] {
  return jsonLines(text, 'question.jsonl').map(({ line, value }) => {
    const { question_id: id, category, turns, reference } = value;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`question.jsonl line ${line}: question_id must be an integer`);
    if (typeof category !== 'string') throw new Error(`question.jsonl line ${line}: category must be a string`);
    if (!isStringArray(turns) || turns.length !== 2) {
      throw new Error(`question.jsonl line ${line}: turns must be two strings (MT-Bench is two-turn)`);
    }
    if (reference !== undefined && !isStringArray(reference)) {
      throw new Error(`question.jsonl line ${line}: reference must be a list of strings`);
    }
    const question: MtBenchQuestion = { questionId: id, category, turns: [turns[0] as string, turns[1] as string] };
    if (reference !== undefined) question.reference = reference;
    return question;
  });
}

/** reference_answer/<judge>.jsonl: `{question_id, choices: [{turns: [...]}], ...}` per line; choices[0] is used
 * (run_judge_single: ref_answer["choices"][0]["turns"]). */
export function parseMtBenchReferences(text: string): MtBenchReference[] {
  return jsonLines(text, 'reference answers').map(({ line, value }) => {
    const { question_id: id, choices } = value;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`reference answers line ${line}: question_id must be an integer`);
    const first = Array.isArray(choices) ? (choices[0] as Record<string, unknown> | undefined) : undefined;
    if (!first || !isStringArray(first.turns)) {
      throw new Error(`reference answers line ${line}: choices[0].turns must be a list of strings`);
    }
    return { questionId: id, turns: first.turns };
  });
}

/** The references keyed by question id, for buildJudgeRequest's `reference`; a repeated id throws. */
export function referencesById(references: readonly MtBenchReference[]): Record<number, MtBenchReference> {
  const out: Record<number, MtBenchReference> = {};
  for (const r of references) {
    if (out[r.questionId] !== undefined) throw new Error(`reference answers: question ${r.questionId} twice`);
    out[r.questionId] = r;
  }
  return out;
}

/** judge_prompts.jsonl, keyed by name; a later line of the same name wins (common.py load_judge_prompts). */
export function parseJudgePrompts(text: string): Record<string, JudgePrompt> {
  const prompts: Record<string, JudgePrompt> = {};
  for (const { line, value } of jsonLines(text, 'judge_prompts.jsonl')) {
    const field = (key: string): string => {
      const v = value[key];
      if (typeof v !== 'string') throw new Error(`judge_prompts.jsonl line ${line}: ${key} must be a string`);
      return v;
    };
    const prompt: JudgePrompt = {
      name: field('name'),
      type: field('type'),
      systemPrompt: field('system_prompt'),
      promptTemplate: field('prompt_template'),
      description: typeof value.description === 'string' ? value.description : '',
      category: typeof value.category === 'string' ? value.category : '',
      outputFormat: field('output_format'),
    };
    prompts[prompt.name] = prompt;
  }
  return prompts;
}

// ---------------------------------------------------------------------------------------------------------
// The model's conversation

/**
 * What the answering model is sent for `turn` (gen_model_answer.py get_model_answers): turn 1 is the first user
 * turn; turn 2 is turn 1, the model's own turn-1 answer, then the second user turn. `system`, when given and
 * non-empty, comes first (FastChat uses the model's conversation template's system message; '' means none).
 */
export function mtBenchMessages(
  question: Pick<MtBenchQuestion, 'turns'>,
  turn: MtBenchTurn,
  options: { turn1Answer?: string; system?: string } = {},
): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (options.system !== undefined && options.system !== '') messages.push({ role: 'system', content: options.system });
  messages.push({ role: 'user', content: question.turns[0] });
  if (turn === 2) {
    if (options.turn1Answer === undefined) throw new Error('MT-Bench turn 2 needs the model\'s own turn-1 answer');
    messages.push({ role: 'assistant', content: options.turn1Answer });
    messages.push({ role: 'user', content: question.turns[1] });
  }
  return messages;
}

/** The answering model's decoding for a category (gen_model_answer.py: greedy when temperature < 1e-4). */
export function mtBenchSampling(category: string): { temperature: number; doSample: boolean; maxNewTokens: number } {
  const temperature = MT_BENCH_TEMPERATURE[category] ?? MT_BENCH_DEFAULT_TEMPERATURE;
  return { temperature, doSample: temperature >= 1e-4, maxNewTokens: MT_BENCH_MAX_NEW_TOKENS };
}

// ---------------------------------------------------------------------------------------------------------
// Single-answer grading

/**
 * The judge template for a question's category and turn (gen_judgment.py: questions in NEED_REF_CATS go to the
 * "math" judges, the rest to "default"; turn 2 uses the -multi-turn judge; common.py resolve_single_judgment_dict
 * makes the same choice). The judge prompt's own `category` field plays no part (pair-math-v1-multi-turn says
 * "general").
 */
export function judgeTemplateName(category: string, turn: MtBenchTurn): SingleJudgeTemplate {
  const math = NEED_REF_CATS.includes(category);
  if (turn === 2) return math ? 'single-math-v1-multi-turn' : 'single-v1-multi-turn';
  return math ? 'single-math-v1' : 'single-v1';
}

/** Whether a category is graded against a reference answer (reference-guided grading). */
export function needsReference(category: string): boolean {
  return NEED_REF_CATS.includes(category);
}

/**
 * Python's `str.format(**values)` for templates with plain `{name}` fields: `{{` and `}}` are literal braces, each
 * `{name}` is replaced by values[name] in one pass (a value is never re-scanned, so an answer that contains
 * "{question}" stays as it is), unused values are ignored, and a field without a value, or a stray brace,
 * throws — as Python raises KeyError / ValueError. Format specs and conversions (`{x:>4}`, `{x!r}`) are refused.
 */
export function formatPythonTemplate(template: string, values: Readonly<Record<string, string>>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i] as string;
    if (ch === '{') {
      if (template[i + 1] === '{') {
        out += '{';
        i += 2;
        continue;
      }
      const end = template.indexOf('}', i + 1);
      if (end < 0) throw new Error("template: single '{' encountered");
      const name = template.slice(i + 1, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`template: unsupported field {${name}}`);
      if (!Object.prototype.hasOwnProperty.call(values, name)) throw new Error(`template: no value for {${name}}`);
      out += values[name];
      i = end + 1;
    } else if (ch === '}') {
      if (template[i + 1] !== '}') throw new Error("template: single '}' encountered");
      out += '}';
      i += 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

export interface JudgeRequest {
  /** The judge_prompts.jsonl entry used. */
  template: SingleJudgeTemplate;
  questionId: number;
  category: string;
  turn: MtBenchTurn;
  /** The template's system_prompt. */
  system: string;
  /** The template's prompt_template with its placeholders filled. */
  user: string;
  /** What the judge is sent (Conversation.to_openai_api_messages: the system message unless it is ''). */
  messages: ChatMessage[];
}

export interface JudgeInput {
  question: MtBenchQuestion;
  turn: MtBenchTurn;
  /** The model's answers: [turn-1] for turn 1; [turn-1, turn-2] for turn 2. */
  answers: readonly string[];
  /** The reference answers of this question (from parseMtBenchReferences); required for NEED_REF_CATS. */
  reference?: MtBenchReference;
  judgePrompts: Readonly<Record<string, JudgePrompt>>;
}

/**
 * One single-answer grading request (common.py run_judge_single). Placeholders, filled with Python format
 * semantics: turn 1 — question = turns[0], answer = answers[0]; turn 2 — question_1, question_2, answer_1,
 * answer_2; and for NEED_REF_CATS ref_answer_1 = reference.turns[0] (and for turn 2 ref_answer_2 =
 * reference.turns[1]). A question in NEED_REF_CATS without a reference throws (gen_judgment's check_data
 * asserts the same).
 */
export function buildJudgeRequest(input: JudgeInput): JudgeRequest {
  const { question, turn, answers, reference, judgePrompts } = input;
  const name = judgeTemplateName(question.category, turn);
  const prompt = judgePrompts[name];
  if (!prompt) throw new Error(`judge prompts lack ${name}`);
  if (prompt.type !== 'single') throw new Error(`judge prompt ${name} is of type ${prompt.type}, not single`);
  const values: Record<string, string> = {};
  // gen_judgment.py passes ref_answers only to the math judges; so reference is used only for NEED_REF_CATS.
  if (needsReference(question.category)) {
    if (!reference) throw new Error(`question ${question.questionId} (${question.category}) needs a reference answer`);
    if (reference.questionId !== question.questionId) {
      throw new Error(`reference ${reference.questionId} handed in for question ${question.questionId}`);
    }
    const ref1 = reference.turns[0];
    if (ref1 === undefined) throw new Error(`reference ${reference.questionId} has no turn-1 answer`);
    values.ref_answer_1 = ref1;
    if (turn === 2) {
      const ref2 = reference.turns[1];
      if (ref2 === undefined) throw new Error(`reference ${reference.questionId} has no turn-2 answer`);
      values.ref_answer_2 = ref2;
    }
  }
  const answer1 = answers[0];
  if (answer1 === undefined) throw new Error(`question ${question.questionId}: no turn-1 answer`);
  if (turn === 2) {
    const answer2 = answers[1];
    if (answer2 === undefined) throw new Error(`question ${question.questionId}: turn 2 needs both answers`);
    values.question_1 = question.turns[0];
    values.question_2 = question.turns[1];
    values.answer_1 = answer1;
    values.answer_2 = answer2;
  } else {
    values.question = question.turns[0];
    values.answer = answer1;
  }
  const user = formatPythonTemplate(prompt.promptTemplate, values);
  const system = prompt.systemPrompt;
  const messages: ChatMessage[] = system === '' ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: user });
  return { template: name, questionId: question.questionId, category: question.category, turn, system, user, messages };
}

// ---------------------------------------------------------------------------------------------------------
// Rating parsing

/** common.py one_score_pattern and one_score_pattern_backup (ASCII digits). */
const ONE_SCORE_PATTERN = /\[\[(\d+\.?\d*)\]\]/;
const ONE_SCORE_PATTERN_BACKUP = /\[(\d+\.?\d*)\]/;

/** The rating FastChat records for an unparsable judgment. */
export const UNPARSABLE_RATING = -1;

/**
 * The rating of a judgment as run_judge_single reads it: the first `[[number]]` anywhere, else the first
 * `[number]`, number being `\d+\.?\d*` ("8", "8.5", "8."); else -1. As in FastChat the value is not clipped to
 * 1–10 ("[[0]]" is 0, "[[15]]" is 15); "[[8/10]]", "[[ 8 ]]", "[[-3]]" and "Rating: 8" are -1.
 * One divergence: Python's ast.literal_eval raises on an integer with a leading zero ("[[08]]"), so FastChat
 * would crash there; here it reads 8.
 */
export function parseRating(judgment: string): number {
  const match = ONE_SCORE_PATTERN.exec(judgment) ?? ONE_SCORE_PATTERN_BACKUP.exec(judgment);
  if (!match) return UNPARSABLE_RATING;
  return Number(match[1]);
}

// ---------------------------------------------------------------------------------------------------------
// Aggregation

export interface MtBenchJudgment {
  questionId: number;
  category: string;
  turn: MtBenchTurn;
  /** parseRating's value; -1 = unparsable. */
  score: number;
}

export interface MtBenchCell {
  /** Mean of the parsable scores; null when there are none. */
  mean: number | null;
  /** Number of parsable scores in the mean. */
  n: number;
  /** Judgments with score -1, left out of the mean. */
  unparsable: number;
}

export interface MtBenchSummary {
  /** show_result.py "Average": the mean over every parsable judgment of both turns (not the mean of the turn means). */
  overall: MtBenchCell;
  /** show_result.py "First turn" / "Second turn". */
  byTurn: Record<'1' | '2', MtBenchCell>;
  /** Both turns of a category pooled, the way the overall mean pools everything. */
  byCategory: Record<string, MtBenchCell>;
  byCategoryTurn: Record<string, Record<'1' | '2', MtBenchCell>>;
  /** Total judgments with score -1. */
  unparsable: number;
  /** Total judgments handed in. */
  total: number;
}

class Acc {
  sum = 0;
  n = 0;
  unparsable = 0;
  add(score: number): void {
    // show_result.py display_result_single: df[df["score"] != -1] — exactly -1 is dropped, anything else counts.
    if (score === UNPARSABLE_RATING || Number.isNaN(score)) this.unparsable++;
    else {
      this.sum += score;
      this.n++;
    }
  }
  cell(): MtBenchCell {
    return { mean: this.n === 0 ? null : this.sum / this.n, n: this.n, unparsable: this.unparsable };
  }
}

/** Means per turn, per category, per category and turn, and overall, leaving out score -1 as show_result.py does. */
export function aggregateMtBench(judgments: readonly MtBenchJudgment[]): MtBenchSummary {
  const overall = new Acc();
  const turns = { '1': new Acc(), '2': new Acc() };
  const categories = new Map<string, Acc>();
  const categoryTurns = new Map<string, { '1': Acc; '2': Acc }>();
  for (const category of MT_BENCH_CATEGORIES) {
    categories.set(category, new Acc());
    categoryTurns.set(category, { '1': new Acc(), '2': new Acc() });
  }
  for (const j of judgments) {
    const turn = String(j.turn) as '1' | '2';
    if (turn !== '1' && turn !== '2') throw new Error(`question ${j.questionId}: turn must be 1 or 2`);
    overall.add(j.score);
    turns[turn].add(j.score);
    if (!categories.has(j.category)) {
      categories.set(j.category, new Acc());
      categoryTurns.set(j.category, { '1': new Acc(), '2': new Acc() });
    }
    (categories.get(j.category) as Acc).add(j.score);
    (categoryTurns.get(j.category) as { '1': Acc; '2': Acc })[turn].add(j.score);
  }
  const byCategory: Record<string, MtBenchCell> = {};
  const byCategoryTurn: Record<string, Record<'1' | '2', MtBenchCell>> = {};
  for (const [category, acc] of categories) byCategory[category] = acc.cell();
  for (const [category, t] of categoryTurns) byCategoryTurn[category] = { '1': t['1'].cell(), '2': t['2'].cell() };
  return {
    overall: overall.cell(),
    byTurn: { '1': turns['1'].cell(), '2': turns['2'].cell() },
    byCategory,
    byCategoryTurn,
    unparsable: overall.unparsable,
    total: judgments.length,
  };
}
