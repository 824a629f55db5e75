/**
 * AlpacaEval on the real files (../shared/eval/alpaca_eval). Expected values come from reading alpaca-eval 0.6.6
 * (utils.make_prompts, utils.prompt_to_chatml, completion_parsers.logprob_parser, metrics/helpers.py
 * describe_head2head, metrics/glm_winrate.py) and, where a number or digest is quoted, from running that package's
 * own functions on the same inputs (GLM fits with scikit-learn 1.9, no hub data: the instruction difficulties were
 * handed in through a stand-in df_gamed.csv). Nothing of AlpacaEval's code or template is copied here.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ALPACA_EVAL_JUDGE_SAMPLING,
  GLM_CS,
  alpacaEvalMessages,
  buildPairwiseJudgeRequests,
  charLength,
  fitL1SoftLogistic,
  isExtremeChange,
  itemPreference,
  lengthControlledWinRate,
  pairOutputs,
  parseAlpacaEvalOutputs,
  parseVerdict,
  verdictOf,
  preferenceFromLogprobs,
  promptToChatml,
  renderAlpacaEvalTemplate,
  winRate,
  type JudgedComparison,
} from '../../src/stages/alpaca-eval.js';

function evalFile(relative: string): string {
  const path = fileURLToPath(new URL(`../../../shared/eval/${relative}`, import.meta.url));
  if (!existsSync(path)) {
    throw new Error(`missing benchmark file ${path}: the AlpacaEval tests need ../shared/eval (see shared/eval/README.md)`);
  }
  return readFileSync(path, 'utf8');
}

const gpt4 = parseAlpacaEvalOutputs(evalFile('alpaca_eval/gpt4_1106_preview.json'));
const davinci = parseAlpacaEvalOutputs(evalFile('alpaca_eval/text_davinci_003.json'));
const template = evalFile('alpaca_eval/judge/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('parsing the reference outputs', () => {
  it('reads 805 objects per file, the same instructions in the same order, with their generators and sources', () => {
    expect(gpt4).toHaveLength(805);
    expect(davinci).toHaveLength(805);
    expect(gpt4.every((row, i) => row.instruction === davinci[i]?.instruction)).toBe(true);
    expect(new Set(gpt4.map((r) => r.generator))).toEqual(new Set(['gpt4_1106_preview']));
    expect(new Set(davinci.map((r) => r.generator))).toEqual(new Set(['text_davinci_003']));
    const bySource: Record<string, number> = {};
    for (const row of gpt4) bySource[row.dataset] = (bySource[row.dataset] ?? 0) + 1;
    expect(bySource).toEqual({ selfinstruct: 252, oasst: 188, koala: 156, helpful_base: 129, vicuna: 80 });
    expect(gpt4[0]?.instruction).toBe('What are the names of some famous actors that started their careers on Broadway?');
  });
  it('refuses what is not an array of {instruction, output}', () => {
    expect(() => parseAlpacaEvalOutputs('{}')).toThrow(/JSON array/);
    expect(() => parseAlpacaEvalOutputs('[{"instruction": "x"}]')).toThrow(/\[0\]: output/);
    expect(() => parseAlpacaEvalOutputs('[1]')).toThrow(/not an object/);
    expect(parseAlpacaEvalOutputs('[{"instruction": "i", "output": "o"}]')).toEqual([{ instruction: 'i', output: 'o', generator: '', dataset: '' }]);
  });
  it('pairs model and baseline outputs on the instruction (annotate_head2head merge)', () => {
    const model = [...davinci].reverse().slice(0, 804).concat([{ instruction: 'not in AlpacaEval', output: 'x', generator: 'm', dataset: '' }]);
    const { pairs, unmatched } = pairOutputs(model, gpt4);
    expect(pairs).toHaveLength(804);
    expect(unmatched).toEqual(['not in AlpacaEval']);
    const i = gpt4.findIndex((r) => r.instruction === pairs[0]?.instruction);
    expect(pairs[0]).toEqual({ instruction: gpt4[i]?.instruction, modelOutput: davinci[i]?.output, baselineOutput: gpt4[i]?.output });
    expect(() => pairOutputs([gpt4[0] as never, gpt4[0] as never], gpt4)).toThrow(/repeated in the model/);
    expect(() => pairOutputs(gpt4, [gpt4[0] as never, gpt4[0] as never])).toThrow(/repeated in the baseline/);
  });
  it('asks the evaluated model the bare instruction', () => {
    expect(alpacaEvalMessages('Hi?')).toEqual([{ role: 'user', content: 'Hi?' }]);
    expect(alpacaEvalMessages('Hi?', 'Be brief.')[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });
});

describe('the judge prompt (utils.make_prompts + utils.prompt_to_chatml)', () => {
  const systemBlock = (): string => {
    const start = template.indexOf('<|im_start|>system\n') + '<|im_start|>system\n'.length;
    return template.slice(start, template.indexOf('<|im_end|>', start)).trim();
  };

  it('renders exactly what AlpacaEval renders (digests of its own make_prompts on five real pairs)', () => {
    // output_1 = text_davinci_003, output_2 = gpt4_1106_preview, rows 0, 1, 5, 100, 804
    const expected = [
      '925c227575cf7c699001ca1c2a6c2c62439612a83a462351d8144126fe75127f',
      '2596c4d75d281297956315a1a947a04f7dc2c270940867fc88f63ee9839089b5',
      'b9e27d0119ca9ff751693f1368937bf0021be121ba3c7c2acc11fb88bd850c51',
      '02dfcd2cea1dad8bc0244c76374ee7ec6283da27cbdf97531182ebe3b4eb0fde',
      'fd1e1bc7bd20bfd5bcddcf2959127ca9f2e20edf6a025054e02053dd36ab4516',
    ];
    [0, 1, 5, 100, 804].forEach((row, k) => {
      const [first] = buildPairwiseJudgeRequests(template, {
        instruction: gpt4[row]?.instruction as string,
        modelOutput: davinci[row]?.output as string,
        baselineOutput: gpt4[row]?.output as string,
      });
      expect(sha256(first.prompt), `row ${row}`).toBe(expected[k]);
    });
  });

  it('judges each pair in both orders: the model as output_1 ("m"), then as output_2 ("M")', () => {
    const pair = { instruction: gpt4[0]?.instruction as string, modelOutput: 'MODEL ANSWER', baselineOutput: 'BASELINE ANSWER' };
    const [first, second] = buildPairwiseJudgeRequests(template, pair);
    expect(first.order).toBe('model_first');
    expect(second.order).toBe('model_second');
    const slot = (id: string, output: string): string => `"model_identifier": "${id}",\n        "output": """${output}"""`;
    expect(first.prompt).toContain(slot('m', 'MODEL ANSWER'));
    expect(first.prompt).toContain(slot('M', 'BASELINE ANSWER'));
    expect(second.prompt).toContain(slot('m', 'BASELINE ANSWER'));
    expect(second.prompt).toContain(slot('M', 'MODEL ANSWER'));
    for (const request of [first, second]) {
      expect(request.messages.map((m) => m.role)).toEqual(['system', 'user']);
      expect(request.messages[0]?.content).toBe(systemBlock());
      const user = request.messages[1]?.content as string;
      expect(user).toContain(`"instruction": """${pair.instruction}""",`);
      expect(user.startsWith('I require a leaderboard')).toBe(true);
      expect(user.endsWith('## Best Model Identifier')).toBe(true); // stripped before <|im_end|>
    }
    // the template's own JSON braces are not placeholders; the three placeholders are gone
    expect(first.prompt).not.toMatch(/{instruction}|{output_1}|{output_2}/);
    expect(first.prompt).toContain('{\n    {\n');
  });

  it('substitutes like make_prompts: in order, first occurrence, values verbatim (AlpacaEval digests)', () => {
    // an instruction containing "{output_1}" takes output_1's value; output_1's "{output_2}" then takes output_2's
    const tricky = renderAlpacaEvalTemplate(template, { instruction: 'Say {output_1} please', output_1: 'first {output_2} $&', output_2: 'second' });
    expect(sha256(tricky)).toBe('baf87fd7d27d15c67b8b7cf1b30f9cb6a1e46b4da1d2ef15472edce40b42012c');
    expect(tricky).toContain('"""Say first second $& please"""');
    expect(tricky).toContain('"output": """{output_1}"""');
    expect(() => renderAlpacaEvalTemplate(template, { instruction: 'x', output_1: 'y' })).toThrow(/no value for {output_2}/);
    expect(() => renderAlpacaEvalTemplate('{a} {a}', { a: '1' })).toThrow(/occurs 2 times/);
  });

  it('converts to chat as prompt_to_chatml does, special tokens inside outputs included', () => {
    const render = (instruction: string, output1: string, output2: string) =>
      renderAlpacaEvalTemplate(template, { instruction, output_1: output1, output_2: output2 });
    // an output containing <|im_end|> cuts the user message there (AlpacaEval's behaviour, kept)
    const cut = render('  padded  \n', ' a \n', 'b<|im_end|>tail');
    expect(sha256(cut)).toBe('65e3f6d12fa7db0860624a6adf48cf6a59e50f6fcb8fb9a537a04c692ca72fa9');
    expect(promptToChatml(cut)[1]?.content.endsWith('"output": """b')).toBe(true);
    // an output containing <|im_start|>user opens a third message
    const split = render('x', 'has <|im_start|>user\nsneaky', 'y');
    expect(sha256(split)).toBe('c719b483f50c9b16aa5405a7fd364541f4e13efddbfbd1fe571f95cf48dc8037');
    expect(promptToChatml(split).map((m) => m.role)).toEqual(['system', 'user', 'user']);
    const unicode = render('ünïcödé 🎉', '\u00a0nbsp\u00a0', '');
    expect(sha256(unicode)).toBe('6d4593015bd9b6d0e0046a96e4deaaed0116da90b18aeb4c240e333f1e34dcfb');
    expect(promptToChatml('<|im_start|>system name=example_user\nKnock knock.\n<|im_end|>\n<|im_start|>user\nOrange.\n<|im_end|>')).toEqual([
      { role: 'system', content: 'Knock knock.', name: 'example_user' },
      { role: 'user', content: 'Orange.' },
    ]);
    expect(() => promptToChatml('no tokens')).toThrow(/must start with/);
  });
});

describe('verdicts (completion_parsers.logprob_parser over "m"/"M")', () => {
  it('reads a text judge\'s first token: m → output_1 (1), M → output_2 (2), else unparsable', () => {
    const cases: [string, 1 | 2 | null][] = [
      ['m', 1],
      ['M', 2],
      [' M', 2],
      ['\nm\n', 1],
      ['M.', 2],
      ['M is better', 2],
      ['Model M', null],
      ['mM', null],
      ['`M`', null],
      ['"m"', null],
      ['', null],
      ['The best is m', null],
      ['Mistral', null],
      ['m1', null],
    ];
    for (const [text, verdict] of cases) expect(parseVerdict(text), JSON.stringify(text)).toBe(verdict);
    expect(ALPACA_EVAL_JUDGE_SAMPLING.temperature).toBe(0);
  });
  it('turns top log-probabilities into the same numbers as logprob_parser (weighted and binarized)', () => {
    // [weighted (is_binarize false), binarized] as the package computed them
    const cases: [{ token: string; logprob: number }[], number | null, number | null][] = [
      [[{ token: 'M', logprob: -0.017597131 }, { token: 'm', logprob: -4.048847 }, { token: 'Both', logprob: -14.9 }], 1.9825575130186845, 2],
      [[{ token: 'm', logprob: -0.5 }, { token: 'M', logprob: -0.9 }], 1.401312339887548, 1],
      [[{ token: 'M', logprob: -0.1 }, { token: 'The', logprob: -3 }], 2, 2],
      [[{ token: 'The', logprob: -0.1 }, { token: ' m', logprob: -3 }], null, null],
      [[{ token: 'm', logprob: -0.7 }, { token: 'M', logprob: -0.7 }], 1.5, 2],
    ];
    for (const [top, weighted, binarized] of cases) {
      const w = preferenceFromLogprobs(top);
      if (weighted === null) expect(w).toBeNull();
      else expect(w).toBeCloseTo(weighted, 12);
      expect(preferenceFromLogprobs(top, true)).toBe(binarized);
    }
  });
});

describe('a judge reply read as the 2.0 annotator reads it (verdictOf)', () => {
  it('weighs "m" against "M" in the first token\'s log-probabilities, and falls back to the text without them', () => {
    const top = [
      { token: 'M', logprob: Math.log(0.6) },
      { token: 'm', logprob: Math.log(0.3) },
      { token: 'The', logprob: Math.log(0.1) },
    ];
    expect(verdictOf({ text: 'M', top_logprobs: top })).toBeCloseTo(2 - 1 / 3, 12);
    expect(verdictOf({ text: ' M' })).toBe(2);
    expect(verdictOf({ text: ' M', top_logprobs: [{ token: ' M', logprob: -0.1 }] })).toBe(2); // not the exact token: the text decides
    expect(verdictOf({ text: 'The best', top_logprobs: [{ token: 'The', logprob: -0.1 }] })).toBeNull();
  });
});

describe('per-item preference over the two orders', () => {
  const pair = (modelFirst: number | null | undefined, modelSecond: number | null | undefined): JudgedComparison => ({
    modelOutput: 'model',
    baselineOutput: 'baseline',
    modelFirst,
    modelSecond,
  });
  it('averages the two orders; a disagreement is a tie', () => {
    expect(itemPreference(pair(1, 2))).toEqual({ preference: 1, ordersUsed: 2, unparsable: 0, identical: false }); // model wins both
    expect(itemPreference(pair(2, 1)).preference).toBe(0); // baseline wins both
    expect(itemPreference(pair(1, 1)).preference).toBe(0.5); // always "m": position bias → tie
    expect(itemPreference(pair(2, 2)).preference).toBe(0.5);
    expect(itemPreference(pair(1.25, 1.5)).preference).toBeCloseTo((0.75 + 0.5) / 2, 12); // logprob verdicts
  });
  it('uses a single parsable order, counts unparsable verdicts, and makes identical outputs a tie without a judge', () => {
    expect(itemPreference(pair(1, null))).toEqual({ preference: 1, ordersUsed: 1, unparsable: 1, identical: false });
    expect(itemPreference(pair(undefined, null))).toEqual({ preference: null, ordersUsed: 0, unparsable: 2, identical: false });
    expect(itemPreference(pair(3, 0)).unparsable).toBe(2); // outside 1..2 (validate_alpacaeval_preference)
    expect(itemPreference({ modelOutput: 'same', baselineOutput: 'same' })).toEqual({ preference: 0.5, ordersUsed: 2, unparsable: 0, identical: true });
  });
});

describe('win rate (describe_head2head with AbsoluteScoringRule / ZeroOneScoringRule)', () => {
  // AlpacaEval preferences p (1 = baseline, 2 = model) fed as modelFirst = 3 − p, modelSecond = p, so each item's
  // preference is p − 1; expected values are get_winrate's on the same lists.
  const asItems = (prefs: number[]): JudgedComparison[] => prefs.map((p) => ({ modelOutput: 'a', baselineOutput: 'b', modelFirst: 3 - p, modelSecond: p }));
  it.each([
    [[1, 2, 2, 1.5, 2, 1], 58.333333333333336, 20.06932429798716, 58.333333333333336, 3, 2, 1],
    [[1.2, 1.9, 1.5, 1.75, 1.01], 47.19999999999999, 16.563212248836273, 50, 2, 2, 1],
    [[2, 2, 2, 2], 100, 0, 100, 4, 0, 0],
    [[1.5, 1.5, 1, 2, 1.25, 1.75, 1.5], 50, 12.198750911856663, 50, 2, 2, 3],
  ])('%j', (prefs, rate, se, discrete, wins, losses, draws) => {
    const r = winRate(asItems(prefs));
    expect(r.winRate).toBeCloseTo(rate, 10);
    expect(r.standardError).toBeCloseTo(se, 10);
    expect(r.discreteWinRate).toBeCloseTo(discrete, 10);
    expect([r.nWins, r.nLosses, r.nDraws, r.n]).toEqual([wins, losses, draws, prefs.length]);
  });
  it('counts unparsable verdicts, drops items without any, and reports both sides\' average lengths in characters', () => {
    const items: JudgedComparison[] = [
      { modelOutput: 'aaaa', baselineOutput: 'bb', modelFirst: 1, modelSecond: 2 }, // 1
      { modelOutput: 'aa', baselineOutput: 'bbbb', modelFirst: 2, modelSecond: null }, // 0, one order
      { modelOutput: '🎉🎉', baselineOutput: 'b', modelFirst: null, modelSecond: undefined }, // dropped
      { modelOutput: 'same', baselineOutput: 'same' }, // tie without a judge
    ];
    const r = winRate(items);
    expect(r.n).toBe(3);
    expect(r.winRate).toBeCloseTo(50, 12);
    expect(r.unparsableVerdicts).toBe(3);
    expect(r.droppedItems).toBe(1);
    expect(r.nOneOrder).toBe(1);
    expect(r.nIdentical).toBe(1);
    expect(r.preferences).toEqual([1, 0, null, 0.5]);
    // code points, as Python's str.len: '🎉🎉' is 2 (4 UTF-16 units); means over all items, avg_length truncated
    expect(charLength('🎉🎉')).toBe(2);
    expect(r.meanLength).toEqual({ model: (4 + 2 + 2 + 4) / 4, baseline: (2 + 4 + 1 + 4) / 4 });
    expect(r.avgLength).toEqual({ model: 3, baseline: 2 });
    const strict = winRate(items, { requireBothOrders: true });
    expect(strict.n).toBe(2);
    expect(strict.droppedItems).toBe(2);
  });
  it('serves model vs reference on the real files: gpt4 vs itself is 50%, lengths as AlpacaEval reports', () => {
    const self = winRate(gpt4.map((row) => ({ modelOutput: row.output, baselineOutput: row.output })));
    expect(self.winRate).toBe(50);
    expect(self.nIdentical).toBe(805);
    const longer = winRate(
      davinci.map((row, i) => {
        const base = gpt4[i]?.output as string;
        const modelLonger = charLength(row.output) > charLength(base);
        return { modelOutput: row.output, baselineOutput: base, modelFirst: modelLonger ? 1 : 2, modelSecond: modelLonger ? 2 : 1 };
      }),
    );
    expect(longer.n).toBe(805);
    expect(longer.avgLength.model).toBe(Math.trunc(davinci.reduce((a, r) => a + charLength(r.output), 0) / 805));
    expect(longer.avgLength.baseline).toBeGreaterThan(longer.avgLength.model); // GPT-4 Turbo writes much longer
    expect(longer.winRate).toBeLessThan(10);
  });
});

describe('length-controlled win rate (glm_winrate.py, formulas length_controlled_minimal / _noreg)', () => {
  // the generator the cross-check used (an LCG, so the data are the same here and there)
  let state = 7;
  const rnd = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  type Row = { lb: number; lm: number; p: number };
  const make = (n: number, gen: (i: number) => Row): Row[] => Array.from({ length: n }, (_, i) => gen(i));
  const soft = make(805, () => {
    const lb = 200 + Math.floor(rnd() * 1500);
    const lm = 200 + Math.floor(rnd() * 2500);
    return { lb, lm, p: sig(3 * Math.tanh((lm - lb) / 800)) };
  });
  const quarters = make(400, () => {
    const lb = 300 + Math.floor(rnd() * 900);
    const lm = 100 + Math.floor(rnd() * 2900);
    return { lb, lm, p: Math.round(4 * sig(1 + 2 * Math.tanh((lm - lb) / 700) + (rnd() - 0.5))) / 4 };
  });
  const difficulty = Array.from({ length: 300 }, () => rnd() * 2 - 1);
  const withDifficulty = make(300, (i) => {
    const lb = 500 + Math.floor(rnd() * 500);
    const lm = 200 + Math.floor(rnd() * 1500);
    return { lb, lm, p: sig(0.5 - 1.5 * (difficulty[i] as number) + 2 * Math.tanh((lm - lb) / 500)) };
  });
  const noise = make(60, () => {
    const lb = 100 + Math.floor(rnd() * 100);
    const lm = 100 + Math.floor(rnd() * 300);
    return { lb, lm, p: [0, 0.5, 1][Math.floor(rnd() * 3)] as number };
  });
  // an item whose two verdicts average to p (logprob-style verdicts: model_first 2 − p, model_second 1 + p)
  const items = (rows: Row[], diff?: number[]): JudgedComparison[] =>
    rows.map((r, i) => ({
      modelOutput: 'm'.repeat(r.lm),
      baselineOutput: 'b'.repeat(r.lb),
      modelFirst: 2 - r.p,
      modelSecond: 1 + r.p,
      ...(diff ? { instructionDifficulty: diff[i] as number } : {}),
    }));

  it('a judge that only prefers the longer output: LC ≈ 50% while the raw win rate is far from it', () => {
    const r = lengthControlledWinRate(items(soft));
    expect(r.winRate).toBeCloseTo(67.2965257666714, 8); // AlpacaEval's win_rate
    expect(r.lengthControlledWinRate).toBeCloseTo(50, 0);
    // AlpacaEval: 49.9667 with C = 1291.5 chosen by its folds; here C = 1e4 — the same optimum family
    expect(Math.abs(r.lengthControlledWinRate - 49.9667078836372)).toBeLessThan(0.01);
    expect(r.weights.lengthTanh).toBeLessThan(-3);
    expect(r.extremeChange).toBe(true); // AlpacaEval would warn: 67 → 50
    // for AlpacaEval's C the weights agree with sklearn/liblinear's to its tolerance
    const sd = Math.sqrt(soft.map((x) => x.lb - x.lm).reduce((a, d, _, all) => a + (d - all.reduce((s, v) => s + v, 0) / all.length) ** 2, 0) / (soft.length - 1));
    const w = fitL1SoftLogistic(soft.map((x) => [Math.tanh((x.lb - x.lm) / sd), 1]), soft.map((x) => x.p), 1291.5496650148827);
    expect(w[0]).toBeCloseTo(-3.0416085387005145, 3);
    expect(w[1]).toBeCloseTo(-0.0013316848513110523, 3);
  });

  it('recovers a real advantage beyond length (same C and numbers as AlpacaEval)', () => {
    const r = lengthControlledWinRate(items(quarters));
    expect(r.winRate).toBeCloseTo(87.3125, 8);
    expect(r.C).toBeCloseTo(21.54434690031882, 10);
    expect(r.lengthControlledWinRate).toBeCloseTo(78.89634041069657, 2);
    expect(r.weights.lengthTanh).toBeCloseTo(-3.3865471403359653, 3);
    expect(r.weights.model).toBeCloseTo(1.3186883784543555, 3);
  });

  it('with instruction difficulty (noreg formula), as AlpacaEval fits it', () => {
    const r = lengthControlledWinRate(items(withDifficulty, difficulty), { formula: 'noreg' });
    expect(r.winRate).toBeCloseTo(65.46666288422495, 8);
    expect(r.C).toBe(10000);
    expect(r.lengthControlledWinRate).toBeCloseTo(61.12111502815986, 2);
    expect(r.standardError).toBeCloseTo(1.1123180610898549, 3);
    expect(r.weights.instructionDifficulty).toBeCloseTo(-1.500731231246142, 3);
    expect(() => lengthControlledWinRate(items(withDifficulty))).not.toThrow();
    expect(() => lengthControlledWinRate(items(withDifficulty), { formula: 'noreg' })).toThrow(/instructionDifficulty/);
  });

  it('pure noise: everything regularized away, 50% (AlpacaEval: C = 1e-4, weights 0)', () => {
    const r = lengthControlledWinRate(items(noise));
    expect(r.winRate).toBeCloseTo(44.166666666666664, 8);
    expect(r.C).toBeCloseTo(GLM_CS[0] as number, 12);
    expect(r.lengthControlledWinRate).toBe(50);
    expect(r.weights).toEqual({ lengthTanh: 0, model: 0 });
  });

  it('a noisy text judge that prefers longer outputs, judged in both orders: LC near 50%', () => {
    let s = 99;
    const coin = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    const rows = make(805, () => ({ lb: 300 + Math.floor(coin() * 1200), lm: 300 + Math.floor(coin() * 2400), p: 0 }));
    const sd = 900;
    const judged: JudgedComparison[] = rows.map((r) => {
      const pLonger = sig(3 * Math.tanh((r.lm - r.lb) / sd)); // P(judge picks the model's output)
      const modelFirst = coin() < pLonger ? 1 : 2; // model is output_1
      const modelSecond = coin() < pLonger ? 2 : 1; // model is output_2
      return { modelOutput: 'm'.repeat(r.lm), baselineOutput: 'b'.repeat(r.lb), modelFirst, modelSecond };
    });
    const r = lengthControlledWinRate(judged);
    expect(r.winRate).toBeGreaterThan(65);
    expect(Math.abs(r.lengthControlledWinRate - 50)).toBeLessThan(4);
  });

  it('is 50% when the model is its baseline, and needs a few items', () => {
    const same = gpt4.slice(0, 20).map((row) => ({ modelOutput: row.output, baselineOutput: row.output }));
    expect(lengthControlledWinRate(same).lengthControlledWinRate).toBe(50);
    expect(() => lengthControlledWinRate(same.slice(0, 3))).toThrow(/need at least 5/);
  });

  it('flags extreme changes as get_is_extreme_changes does', () => {
    expect(isExtremeChange(20, 9)).toBe(true);
    expect(isExtremeChange(20, 11)).toBe(false);
    expect(isExtremeChange(50, 62)).toBe(false);
    expect(isExtremeChange(50, 63)).toBe(true);
  });
});
