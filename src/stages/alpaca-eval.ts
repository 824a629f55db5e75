/**
 * AlpacaEval (Li et al. 2023; Dubois et al. 2024, length-controlled) as pure functions, following the alpaca-eval
 * 0.6.6 package: utils.make_prompts and utils.prompt_to_chatml (the judge prompt), completion_parsers.logprob_parser
 * (the verdict), metrics/helpers.py + winrate.py (win rate and its standard error), main.py (avg_length) and
 * metrics/glm_winrate.py (the length-controlled win rate). Nothing here reads files: callers hand in the text of
 * the model-output JSON arrays and of the judge template (alpaca_eval_clf.txt); the template is never copied here.
 *
 * API, in the order a run uses it:
 *
 *   parseAlpacaEvalOutputs(text)                     JSON array → AlpacaEvalExample[]  (805 for the reference files)
 *   alpacaEvalMessages(instruction)                  → ChatMessage[]  what the evaluated model is asked (the bare instruction)
 *   pairOutputs(modelOutputs, baselineOutputs)       → { pairs: PairToJudge[], unmatched }  joined on the instruction
 *   buildPairwiseJudgeRequests(template, { instruction, modelOutput, baselineOutput })
 *                                                    → PairwiseJudgeRequest[2]: order 'model_first' (model = output_1, "m")
 *                                                      then 'model_second' (model = output_2, "M"), each { order, prompt, messages }
 *   verdictOf({ text, top_logprobs? })               → the verdict as the 2.0 annotator reads it: weighted from the first
 *                                                      token's log-probabilities when "m"/"M" are among them, else parseVerdict
 *   parseVerdict(judgeText)                          → 1 (output_1 / "m" better) | 2 (output_2 / "M" better) | null (unparsable)
 *   preferenceFromLogprobs(topLogprobs, binarize?)   → the same from the first token's top log-probabilities (1..2), or null
 *   itemPreference({ modelOutput, baselineOutput, modelFirst, modelSecond })
 *                                                    → ItemPreference: P(model better) in [0, 1] averaged over the two orders
 *   winRate(items)                                   → WinRateResult: win rate ± standard error (percent), n, wins/losses/draws,
 *                                                      unparsable verdicts, dropped items, average lengths of both sides
 *   lengthControlledWinRate(items, options?)         → LengthControlledResult: the GLM-based LC win rate (see its comment)
 *
 * "baseline" is whichever side the model is compared with: the reference outputs (gpt4_1106_preview for 2.0,
 * text_davinci_003 for 1.0), the previous iteration, or the base model; the functions do not care which.
 *
 * Departure from AlpacaEval, on purpose: AlpacaEval judges each pair once, with output_1/output_2 swapped at random
 * (RandomSwitchTwoColumnsProcessor) to spread position bias; here each pair is judged in both orders and the two
 * preferences are averaged, which cancels it per item (a disagreement becomes a tie, 0.5).
 */
import type { ChatMessage } from './responses.js';

/** AlpacaEval's reference outputs: 2.0's (GPT-4 Turbo) and 1.0's (text-davinci-003), by their results/ folder name. */
export const ALPACA_EVAL_REFERENCES = ['gpt4_1106_preview', 'text_davinci_003'] as const;
export type AlpacaEvalReference = (typeof ALPACA_EVAL_REFERENCES)[number];

export interface AlpacaEvalExample {
  instruction: string;
  output: string;
  /** The model that wrote `output` ('' when the file lacks it). */
  generator: string;
  /** helpful_base, koala, oasst, selfinstruct or vicuna ('' when the file lacks it). */
  dataset: string;
}

/** The model-output JSON array: objects with string `instruction` and `output`, optional `generator` and `dataset`. */
export function parseAlpacaEvalOutputs(text: string): AlpacaEvalExample[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`AlpacaEval outputs: not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) throw new Error('AlpacaEval outputs: expected a JSON array');
  return value.map((row: unknown, i) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`AlpacaEval outputs[${i}]: not an object`);
    const r = row as Record<string, unknown>;
    for (const key of ['instruction', 'output'] as const) {
      if (typeof r[key] !== 'string') throw new Error(`AlpacaEval outputs[${i}]: ${key} must be a string`);
    }
    for (const key of ['generator', 'dataset'] as const) {
      if (r[key] !== undefined && typeof r[key] !== 'string') throw new Error(`AlpacaEval outputs[${i}]: ${key} must be a string`);
    }
    return {
      instruction: r.instruction as string,
      output: r.output as string,
      generator: (r.generator as string | undefined) ?? '',
      dataset: (r.dataset as string | undefined) ?? '',
    };
  });
}

/** What the evaluated model is sent: the instruction alone as the user turn (AlpacaEval's models_configs wrap it in
 * the model's own chat template; `system`, when given and non-empty, comes first). */
export function alpacaEvalMessages(instruction: string, system?: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (system !== undefined && system !== '') messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: instruction });
  return messages;
}

/**
 * The model's outputs and the baseline's, joined on the instruction as annotate_head2head merges them (keys
 * ["instruction"]), in the model's order. A model row without a baseline row of the same instruction is listed in
 * `unmatched` (AlpacaEval's inner join drops it with a warning); a repeated instruction on either side throws
 * (the inner join would multiply rows).
 */
export function pairOutputs(
  modelOutputs: readonly Pick<AlpacaEvalExample, 'instruction' | 'output'>[],
  baselineOutputs: readonly Pick<AlpacaEvalExample, 'instruction' | 'output'>[],
): { pairs: PairToJudge[]; unmatched: string[] } {
  const baseline = new Map<string, string>();
  for (const row of baselineOutputs) {
    if (baseline.has(row.instruction)) throw new Error(`pairOutputs: instruction repeated in the baseline: ${row.instruction.slice(0, 80)}`);
    baseline.set(row.instruction, row.output);
  }
  const seen = new Set<string>();
  const pairs: PairToJudge[] = [];
  const unmatched: string[] = [];
  for (const row of modelOutputs) {
    if (seen.has(row.instruction)) throw new Error(`pairOutputs: instruction repeated in the model outputs: ${row.instruction.slice(0, 80)}`);
    seen.add(row.instruction);
    const base = baseline.get(row.instruction);
    if (base === undefined) unmatched.push(row.instruction);
    else pairs.push({ instruction: row.instruction, modelOutput: row.output, baselineOutput: base });
  }
  return { pairs, unmatched };
}

// ---------------------------------------------------------------------------------------------------------
// The judge prompt

/**
 * utils.make_prompts with batch_size 1: the placeholders are the distinct `{name}` of the template (regex
 * `{([^ \s]+?)}`, so the template's JSON braces followed by a newline are not placeholders), each must occur exactly
 * once, and they are substituted one after the other, in order of first occurrence, each replacing the FIRST
 * occurrence of `{name}` in the text so far (str.replace(..., 1)) — so a value is inserted verbatim, but a
 * placeholder written inside an earlier value (an instruction containing "{output_1}") is what a later replacement
 * hits, exactly as in AlpacaEval. A placeholder without a value throws (AlpacaEval: KeyError).
 */
export function renderAlpacaEvalTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const names = [...template.matchAll(/{([^ \s]+?)}/g)].map((m) => m[1] as string);
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const [name, n] of counts) {
    if (n !== 1) throw new Error(`AlpacaEval template: placeholder {${name}} occurs ${n} times, expected once (batch_size 1)`);
  }
  let prompt = template;
  for (const name of counts.keys()) {
    if (!Object.prototype.hasOwnProperty.call(values, name)) throw new Error(`AlpacaEval template: no value for {${name}}`);
    const placeholder = `{${name}}`;
    const at = prompt.indexOf(placeholder);
    if (at >= 0) prompt = prompt.slice(0, at) + (values[name] as string) + prompt.slice(at + placeholder.length);
  }
  return prompt;
}

export interface ChatmlMessage extends ChatMessage {
  /** From a `<|im_start|>system name=…` header (prompt_to_chatml's extra parameters). */
  name?: string;
}

/**
 * utils.prompt_to_chatml: the whole prompt is stripped and must start with <|im_start|> and end with <|im_end|>;
 * it is split on <|im_start|>; in each block the first line (stripped) is the role and the rest up to the first
 * <|im_end|>, stripped, the content. A `system name=x` header becomes role system with name x.
 */
export function promptToChatml(prompt: string, startToken = '<|im_start|>', endToken = '<|im_end|>'): ChatmlMessage[] {
  const text = pyStrip(prompt);
  if (!text.startsWith(startToken) || !text.endsWith(endToken)) {
    throw new Error(`AlpacaEval prompt: must start with ${startToken} and end with ${endToken}`);
  }
  const messages: ChatmlMessage[] = [];
  for (const block of text.split(startToken).slice(1)) {
    const newline = block.indexOf('\n');
    const header = newline < 0 ? block : block.slice(0, newline);
    const rest = newline < 0 ? undefined : block.slice(newline + 1);
    // Python: p.split("\n", 1)[1] raises IndexError for a block without a newline
    if (rest === undefined) throw new Error('AlpacaEval prompt: a <|im_start|> block without a newline after its role');
    let role = pyStrip(header);
    const end = rest.indexOf(endToken);
    const content = pyStrip(end < 0 ? rest : rest.slice(0, end));
    const message: ChatmlMessage = { role: role as ChatMessage['role'], content };
    if (role.startsWith('system') && role !== 'system') {
      for (const part of role.slice('system'.length).split(' ')) {
        if (part.length === 0) continue;
        const eq = part.indexOf('=');
        if (eq < 0) throw new Error(`AlpacaEval prompt: bad system parameter ${part}`);
        if (part.slice(0, eq) === 'name') message.name = part.slice(eq + 1);
      }
      role = 'system';
      message.role = 'system';
    }
    if (!['system', 'user', 'assistant'].includes(role)) throw new Error(`AlpacaEval prompt: unknown role ${role}`);
    messages.push(message);
  }
  return messages;
}

/** Python's str.strip() with no argument: Unicode whitespace at both ends. */
function pyStrip(text: string): string {
  return text.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, '');
}

/** 'model_first': the model's output is output_1 (identifier "m"); 'model_second': it is output_2 ("M"). */
export const JUDGE_ORDERS = ['model_first', 'model_second'] as const;
export type JudgeOrder = (typeof JUDGE_ORDERS)[number];

export interface PairwiseJudgeRequest {
  order: JudgeOrder;
  /** The rendered template (ChatML text), as AlpacaEval logs it. */
  prompt: string;
  /** What the judge is sent (prompt_to_chatml). */
  messages: ChatmlMessage[];
}

export interface PairToJudge {
  instruction: string;
  modelOutput: string;
  baselineOutput: string;
}

/**
 * The two judge requests for one pair, model first then model second. Identical outputs need no judge (AlpacaEval
 * sets their preference to 1.5 before annotating); itemPreference makes them a tie whatever the verdicts.
 */
export function buildPairwiseJudgeRequests(template: string, pair: PairToJudge): [PairwiseJudgeRequest, PairwiseJudgeRequest] {
  const make = (order: JudgeOrder): PairwiseJudgeRequest => {
    const [output1, output2] = order === 'model_first' ? [pair.modelOutput, pair.baselineOutput] : [pair.baselineOutput, pair.modelOutput];
    const prompt = renderAlpacaEvalTemplate(template, { instruction: pair.instruction, output_1: output1, output_2: output2 });
    return { order, prompt, messages: promptToChatml(prompt) };
  };
  return [make('model_first'), make('model_second')];
}

/**
 * Decoding for a text-only judge: greedy, a few tokens. The 2.0 config asks gpt-4-1106-preview for one token with
 * its top-5 logprobs (temperature 1 is then irrelevant); greedy decoding picks the most likely first token, which is
 * what the binarized parser (alpaca_eval_clf_gpt4_turbo, is_binarize true) decides whenever that token is m or M.
 */
export const ALPACA_EVAL_JUDGE_SAMPLING = { temperature: 0, maxNewTokens: 4 } as const;

/** weighted_alpaca_eval_gpt4_turbo's top_logprobs: the judge's first-token distribution, read by preferenceFromLogprobs. */
export const ALPACA_EVAL_TOP_LOGPROBS = 5;

/**
 * One judge reply's verdict as AlpacaEval 2.0's default annotator reads it: from the first token's top
 * log-probabilities (logprob_parser, not binarized: a weighted preference in [1, 2]) when "m" or "M" is among them;
 * otherwise from the text (parseVerdict), which also reads a first token written " M" (a tokenizer's leading
 * space) that the exact-token parser would miss. null when neither names "m" or "M".
 */
export function verdictOf(reply: { text: string; top_logprobs?: readonly { token: string; logprob: number }[] }): Verdict | null {
  const weighted = reply.top_logprobs ? preferenceFromLogprobs(reply.top_logprobs) : null;
  return weighted ?? parseVerdict(reply.text);
}

// ---------------------------------------------------------------------------------------------------------
// Verdicts

/** 1: output_1 is better; 2: output_2 is better; values in between only from preferenceFromLogprobs. */
export type Verdict = number;

/**
 * A text judge's verdict, the text-only equivalent of logprob_parser(numerator_token "m", denominator_tokens
 * ["m", "M"]): the parser reads the FIRST generated token and counts only the exact tokens "m" (output_1 better →
 * 1) and "M" (output_2 better → 2). Here: the reply, leading whitespace aside (a tokenizer's " M" is the same
 * choice), must start with "m" or "M" not followed by a letter, digit or underscore ("M", "m\n", "M." parse;
 * "Model M", "mM", "``M``", "" do not). Anything else → null (unparsable; AlpacaEval records NaN and drops it).
 */
export function parseVerdict(text: string): 1 | 2 | null {
  const match = /^\s*([mM])(?![\p{L}\p{N}_])/u.exec(text);
  if (!match) return null;
  return match[1] === 'm' ? 1 : 2;
}

/**
 * completion_parsers.logprob_parser on one position's top log-probabilities: among the tokens "m" and "M" (exact),
 * missing ones have probability 0; none present → null (NaN). binarize false (the 2.0 default,
 * weighted_alpaca_eval_gpt4_turbo): 2 − p(m) / (p(m) + p(M)); binarize true (alpaca_eval_clf_gpt4_turbo): 1 if
 * logprob(m) > logprob(M), else 2.
 */
export function preferenceFromLogprobs(topLogprobs: readonly { token: string; logprob: number }[], binarize = false): Verdict | null {
  const map = new Map<string, number>();
  for (const t of topLogprobs) if (t.token === 'm' || t.token === 'M') map.set(t.token, t.logprob); // dict: last wins
  if (map.size === 0) return null;
  const m = map.get('m') ?? -Infinity;
  const M = map.get('M') ?? -Infinity;
  if (binarize) return m > M ? 1 : 2;
  const top = Math.max(m, M);
  const denominator = top + Math.log(Math.exp(m - top) + Math.exp(M - top));
  return 2 - Math.exp(m - denominator);
}

// ---------------------------------------------------------------------------------------------------------
// Per-item preference

export interface JudgedComparison {
  modelOutput: string;
  baselineOutput: string;
  /** The verdict of the 'model_first' request (parseVerdict / preferenceFromLogprobs); null or absent = unparsable or not judged. */
  modelFirst?: Verdict | null;
  /** The verdict of the 'model_second' request. */
  modelSecond?: Verdict | null;
  /** Optional: the instruction's difficulty, for lengthControlledWinRate with instruction difficulty. */
  instructionDifficulty?: number;
}

export interface ItemPreference {
  /** P(model better) in [0, 1]: 1 model wins, 0 baseline wins, 0.5 tie; null when no verdict could be used. */
  preference: number | null;
  /** How many of the two verdicts were usable (0, 1, 2); identical outputs count as 2 without a judge. */
  ordersUsed: 0 | 1 | 2;
  /** Verdicts handed in that are unparsable (null, absent, or outside 1..2), of the ones that were needed. */
  unparsable: number;
  /** Both outputs are the same string (AlpacaEval: preference 1.5, no judge call). */
  identical: boolean;
}

function usable(v: Verdict | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 2; // utils.validate_alpacaeval_preference
}

/**
 * One item's preference for the model: in 'model_first' the model is output_1, so P(model) = 2 − verdict; in
 * 'model_second' it is output_2, so P(model) = verdict − 1; the two are averaged (a disagreement → 0.5). With only
 * one usable verdict, that one is used (as AlpacaEval's single random order would); with none, null. Identical
 * outputs are a tie (0.5) whatever the verdicts (annotators/pairwise_evaluator.py _preprocess).
 */
export function itemPreference(pair: JudgedComparison): ItemPreference {
  if (pair.modelOutput === pair.baselineOutput) return { preference: 0.5, ordersUsed: 2, unparsable: 0, identical: true };
  const values: number[] = [];
  let unparsable = 0;
  if (usable(pair.modelFirst)) values.push(2 - pair.modelFirst);
  else unparsable++;
  if (usable(pair.modelSecond)) values.push(pair.modelSecond - 1);
  else unparsable++;
  const preference = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  return { preference, ordersUsed: values.length as 0 | 1 | 2, unparsable, identical: false };
}

// ---------------------------------------------------------------------------------------------------------
// Win rate

export interface WinRateOptions {
  /** Drop an item when only one of its two verdicts is usable (default false: use the one). */
  requireBothOrders?: boolean;
}

export interface WinRateResult {
  /** Mean preference × 100 (AlpacaEval's win_rate: draws count half). */
  winRate: number;
  /** Standard error of the mean × 100 (pandas sem, ddof 1); NaN for n < 2. */
  standardError: number;
  /** ZeroOneScoringRule: each preference rounded to a win, loss or (exactly 0.5) draw, then the same mean × 100. */
  discreteWinRate: number;
  /** Items in the win rate. */
  n: number;
  /** Preference > 0.5 / < 0.5 / = 0.5 (n_wins, n_wins_base, n_draws). */
  nWins: number;
  nLosses: number;
  nDraws: number;
  /** Items whose outputs were identical (ties without a judge). */
  nIdentical: number;
  /** Items that used a single order's verdict. */
  nOneOrder: number;
  /** Verdicts that were unparsable (of the needed ones: two per non-identical item). */
  unparsableVerdicts: number;
  /** Items left out: no usable verdict (or only one with requireBothOrders). */
  droppedItems: number;
  /** Average output length in characters (Unicode code points, as Python's str.len) over all items handed in,
   * truncated to an integer as main.py reports avg_length; meanLength keeps the fraction. */
  avgLength: { model: number; baseline: number };
  meanLength: { model: number; baseline: number };
  /** The per-item preferences (null where dropped), in input order. */
  preferences: (number | null)[];
}

/** Length in Unicode code points (Python's len(str)). */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** pandas Series.sem(): sample standard deviation (ddof 1) / sqrt(n); NaN for n < 2. */
function sem(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  const variance = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
  return Math.sqrt(variance) / Math.sqrt(xs.length);
}

/**
 * The win rate of the model over the baseline (metrics/helpers.py BaseScoringRule.describe_head2head with
 * AbsoluteScoringRule, as winrate.get_winrate): win_rate = mean(preference) × 100, standard_error = sem × 100.
 */
export function winRate(items: readonly JudgedComparison[], options: WinRateOptions = {}): WinRateResult {
  const preferences: (number | null)[] = [];
  const kept: number[] = [];
  let unparsableVerdicts = 0;
  let droppedItems = 0;
  let nIdentical = 0;
  let nOneOrder = 0;
  for (const item of items) {
    const p = itemPreference(item);
    unparsableVerdicts += p.unparsable;
    if (p.identical) nIdentical++;
    const drop = p.preference === null || (options.requireBothOrders === true && p.ordersUsed < 2);
    if (drop) {
      droppedItems++;
      preferences.push(null);
      continue;
    }
    if (p.ordersUsed === 1) nOneOrder++;
    preferences.push(p.preference);
    kept.push(p.preference as number);
  }
  const discrete = kept.map((p) => (p === 0.5 ? 0.5 : p > 0.5 ? 1 : 0));
  const modelLengths = items.map((i) => charLength(i.modelOutput));
  const baselineLengths = items.map((i) => charLength(i.baselineOutput));
  const meanLength = { model: mean(modelLengths), baseline: mean(baselineLengths) };
  return {
    winRate: mean(kept) * 100,
    standardError: sem(kept) * 100,
    discreteWinRate: mean(discrete) * 100,
    n: kept.length,
    nWins: kept.filter((p) => p > 0.5).length,
    nLosses: kept.filter((p) => p < 0.5).length,
    nDraws: kept.filter((p) => p === 0.5).length,
    nIdentical,
    nOneOrder,
    unparsableVerdicts,
    droppedItems,
    avgLength: { model: Math.trunc(meanLength.model), baseline: Math.trunc(meanLength.baseline) },
    meanLength,
    preferences,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Length-controlled win rate (metrics/glm_winrate.py)

export interface LengthControlledOptions extends WinRateOptions {
  /**
   * 'minimal' (default): GLM_INFO "length_controlled_minimal", preference ~ tanh(std_delta_len) + model term.
   * 'noreg': "length_controlled_noreg", adding instruction_difficulty; needs every item's instructionDifficulty.
   * AlpacaEval 2.0's leaderboard uses "length_controlled_v1" = noreg's formula plus a regularization towards two
   * "gamed" baselines with weight 0.2; that needs the hub file df_gamed.csv (instruction difficulties and gamed
   * annotations), which is not available here, so v1 itself is not offered.
   */
  formula?: 'minimal' | 'noreg';
}

export interface LengthControlledResult {
  /** mean over items of the GLM's predicted P(model better) at zero length difference, × 100. */
  lengthControlledWinRate: number;
  /** sem of those predictions × 100 (lc_standard_error). */
  standardError: number;
  /** The raw win rate on the same items. */
  winRate: number;
  n: number;
  /** Fitted weights: tanh(std_delta_len), instruction_difficulty (noreg only), and the model term
   * (not_gamed_baseline, the intercept). */
  weights: { lengthTanh: number; instructionDifficulty?: number; model: number };
  /** The inverse regularization strength chosen by cross-validation. */
  C: number;
  /** AlpacaEval warns when the LC win rate is far from the raw one (get_is_extreme_changes). */
  extremeChange: boolean;
}

/** sklearn LogisticRegressionCV's default grid: Cs=10 → np.logspace(-4, 4, 10). */
export const GLM_CS: readonly number[] = Array.from({ length: 10 }, (_, i) => 10 ** (-4 + (8 * i) / 9));
export const GLM_FOLDS = 5;

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + e^z), stable. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * min_w ||w||_1 + C Σ_i [ p_i log(1+e^{-z_i}) + (1−p_i) log(1+e^{z_i}) ], z_i = w·x_i, no intercept — the problem
 * liblinear solves for fit_LogisticRegressionCV(is_ytrue_proba=True): each row duplicated with label 1 weighted p
 * and label 0 weighted 1−p, penalty l1, fit_intercept False. Solved by cyclic coordinate descent, each coordinate
 * minimized exactly (the 1-D problem |t| + C h(t) with h convex: t = 0 when |C h'(0)| ≤ 1, else the root of
 * C h'(t) = ∓1, found by safeguarded Newton).
 */
export function fitL1SoftLogistic(X: readonly number[][], p: readonly number[], C: number, start?: readonly number[]): number[] {
  const n = X.length;
  const d = n === 0 ? 0 : (X[0] as number[]).length;
  const w = start ? [...start] : new Array<number>(d).fill(0);
  const z = X.map((row) => row.reduce((a, x, k) => a + x * (w[k] as number), 0));
  // h'(t) and h''(t) along coordinate k, shifting z by (t - w_k) x_ik
  const derivs = (k: number, delta: number): [number, number] => {
    let g = 0;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const x = (X[i] as number[])[k] as number;
      if (x === 0) continue;
      const s = sigmoid((z[i] as number) + delta * x);
      g += x * (s - (p[i] as number));
      h += x * x * s * (1 - s);
    }
    return [C * g, C * h];
  };
  for (let sweep = 0; sweep < 2000; sweep++) {
    let maxChange = 0;
    for (let k = 0; k < d; k++) {
      const wk = w[k] as number;
      // derivative of C h at t = 0, i.e. delta = -wk
      const [g0] = derivs(k, -wk);
      let t: number;
      if (Math.abs(g0) <= 1) t = 0;
      else {
        const target = g0 < -1 ? -1 : 1; // solve C h'(t) = target: t > 0 when g0 < -1, t < 0 when g0 > 1
        let lo = g0 < -1 ? 0 : -1;
        let hi = g0 < -1 ? 1 : 0;
        // bracket: C h'(lo) < target < C h'(hi) (C h' increasing)
        while (derivs(k, hi - wk)[0] < target && hi < 1e12) hi *= 2;
        while (derivs(k, lo - wk)[0] > target && lo > -1e12) lo *= 2;
        t = wk >= lo && wk <= hi ? wk : (lo + hi) / 2;
        for (let iter = 0; iter < 200; iter++) {
          const [g, h] = derivs(k, t - wk);
          const f = g - target;
          if (Math.abs(f) < 1e-12 * Math.max(1, C)) break;
          if (f > 0) hi = t;
          else lo = t;
          let next = h > 0 ? t - f / h : (lo + hi) / 2;
          if (!(next > lo && next < hi)) next = (lo + hi) / 2;
          if (Math.abs(next - t) < 1e-14 * Math.max(1, Math.abs(t))) {
            t = next;
            break;
          }
          t = next;
        }
      }
      const change = t - wk;
      if (change !== 0) {
        for (let i = 0; i < n; i++) z[i] = (z[i] as number) + change * ((X[i] as number[])[k] as number);
        w[k] = t;
      }
      maxChange = Math.max(maxChange, Math.abs(change));
    }
    if (maxChange < 1e-10) break;
  }
  return w;
}

/** glm_winrate.logloss with continuous targets: −mean(p log q + (1−p) log(1−q)), q clipped to [1e-15, 1−1e-15]. */
function continuousLogLoss(p: readonly number[], q: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const qi = Math.min(Math.max(q[i] as number, 1e-15), 1 - 1e-15);
    const pi = p[i] as number;
    total += pi * Math.log(qi) + (1 - pi) * Math.log(1 - qi);
  }
  return -total / p.length;
}

/**
 * The length-controlled win rate (glm_winrate.get_length_controlled_winrate, without the hub data):
 *  1. per item, preference p ∈ [0, 1] (model better) and delta = len(baseline) − len(model) in characters
 *     (AlpacaEval: len(output_1) − len(output_2), output_1 being the baseline); std_delta_len = delta / std(delta)
 *     (ddof 1; all deltas equal → 0);
 *  2. features tanh(std_delta_len), [instruction_difficulty,] 1 (the model term), no intercept;
 *  3. fit_LogisticRegressionCV: L1 logistic regression on soft labels, C chosen from np.logspace(-4, 4, 10) by
 *     5-fold group cross-validation on the continuous log loss, then refitted on all items;
 *  4. predict each item with std_delta_len = 0; the LC win rate is the mean prediction × 100.
 * Fold assignment: sklearn's GroupKFold puts equal-size groups into folds in the order of numpy's (unstable)
 * argsort, which is platform-dependent; here item i (counted from the last) goes to fold i mod 5, which is what a
 * stable sort gives. Only the choice of C can differ from a given sklearn run; for a given C the optimum is the same
 * (liblinear stops at its tolerance, 1e-4, so its weights agree to about that).
 * Pure: no randomness (sklearn's random_state plays no part with liblinear's L1 solver on these few features).
 */
export function lengthControlledWinRate(items: readonly JudgedComparison[], options: LengthControlledOptions = {}): LengthControlledResult {
  const formula = options.formula ?? 'minimal';
  const raw = winRate(items, options);
  const rows: { p: number; delta: number; difficulty: number }[] = [];
  items.forEach((item, i) => {
    const p = raw.preferences[i];
    if (p === null || p === undefined) return;
    let difficulty = 0;
    if (formula === 'noreg') {
      if (typeof item.instructionDifficulty !== 'number' || !Number.isFinite(item.instructionDifficulty)) {
        throw new Error(`lengthControlledWinRate: item ${i} lacks instructionDifficulty (formula 'noreg')`);
      }
      difficulty = item.instructionDifficulty;
    }
    rows.push({ p, delta: charLength(item.baselineOutput) - charLength(item.modelOutput), difficulty });
  });
  const n = rows.length;
  if (n < GLM_FOLDS) throw new Error(`lengthControlledWinRate: ${n} items with a preference; need at least ${GLM_FOLDS}`);
  const deltas = rows.map((r) => r.delta);
  const deltaMean = mean(deltas);
  const deltaStd = Math.sqrt(deltas.reduce((a, x) => a + (x - deltaMean) ** 2, 0) / (n - 1));
  const features = (r: { delta: number; difficulty: number }, lengthZero: boolean): number[] => {
    const t = lengthZero || deltaStd === 0 ? 0 : Math.tanh(r.delta / deltaStd);
    return formula === 'noreg' ? [t, r.difficulty, 1] : [t, 1];
  };
  const X = rows.map((r) => features(r, false));
  const P = rows.map((r) => r.p);
  const Xtest = rows.map((r) => features(r, true));
  const fold = rows.map((_, i) => (n - 1 - i) % GLM_FOLDS);

  let bestC = GLM_CS[0] as number;
  let bestLoss = Infinity;
  for (const C of GLM_CS) {
    let totalScore = 0;
    for (let f = 0; f < GLM_FOLDS; f++) {
      const trainIdx = rows.map((_, i) => i).filter((i) => fold[i] !== f);
      const testIdx = rows.map((_, i) => i).filter((i) => fold[i] === f);
      const w = fitL1SoftLogistic(trainIdx.map((i) => X[i] as number[]), trainIdx.map((i) => P[i] as number), C);
      const q = testIdx.map((i) => sigmoid((X[i] as number[]).reduce((a, x, k) => a + x * (w[k] as number), 0)));
      totalScore += continuousLogLoss(testIdx.map((i) => P[i] as number), q);
    }
    const loss = totalScore / GLM_FOLDS;
    if (loss < bestLoss) {
      // np.argmax over the mean scores: the first best C wins ties
      bestLoss = loss;
      bestC = C;
    }
  }
  const w = fitL1SoftLogistic(X, P, bestC);
  const predictions = Xtest.map((x) => sigmoid(x.reduce((a, v, k) => a + v * (w[k] as number), 0)));
  const lc = mean(predictions) * 100;
  const weights =
    formula === 'noreg'
      ? { lengthTanh: w[0] as number, instructionDifficulty: w[1] as number, model: w[2] as number }
      : { lengthTanh: w[0] as number, model: w[1] as number };
  const rawRate = mean(P) * 100;
  return {
    lengthControlledWinRate: lc,
    standardError: sem(predictions) * 100,
    winRate: rawRate,
    n,
    weights,
    C: bestC,
    extremeChange: isExtremeChange(rawRate, lc),
  };
}

/** glm_winrate.get_is_extreme_changes(abs_diff 10, rel_diff 4). */
export function isExtremeChange(previous: number, next: number, absDiff = 10, relDiff = 4): boolean {
  const tooSmall = next < Math.min(previous - previous / relDiff, previous - absDiff);
  const tooLarge = next > Math.max(previous + (100 - previous) / relDiff, previous + absDiff);
  return tooSmall || tooLarge;
}
