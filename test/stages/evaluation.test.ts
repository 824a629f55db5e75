import { describe, expect, it } from 'vitest';
import { checkResponse, EVAL_ITEMS, scoreEvaluation, type Check, type EvalItem } from '../../src/stages/evaluation.js';

/** For each kind of check: a check, responses that satisfy it, and responses that do not. */
const cases: { check: Check; pass: string[]; fail: string[] }[] = [
  { check: { kind: 'max_words', n: 5 }, pass: ['One two three four five.', "It's fine."], fail: ['One two three four five six.'] },
  { check: { kind: 'min_words', n: 4 }, pass: ['One, two, three and four.'], fail: ['Only three words.', ''] },
  {
    check: { kind: 'keywords', words: ['insulated', 'leak-proof'] },
    pass: ['An Insulated bottle, fully leak-proof.'],
    fail: ['An insulated bottle.', 'Uninsulated and leak-proofing.'],
  },
  {
    check: { kind: 'forbidden_words', words: ['chain', 'pedal'] },
    pass: ['The gears turn with the chainring and the pedals.'],
    fail: ['The Chain moves.', 'Push the pedal.'],
  },
  { check: { kind: 'keyword_frequency', word: 'red', min: 3 }, pass: ['Red dust, red rocks, a RED sky.'], fail: ['Red dust, red rocks, a reddish sky.'] },
  {
    check: { kind: 'json' },
    pass: ['{"a": 1}', '```json\n[{"name": "France"}]\n```', '  ["x"]  '],
    fail: ['Here is the JSON: {"a": 1}', "{'a': 1}", ''],
  },
  { check: { kind: 'no_commas' }, pass: ['No commas here.'], fail: ['One, two.'] },
  {
    check: { kind: 'bullet_count', n: 3 },
    pass: ['Intro\n* one\n* two\n- three', '* a\n* b\n* c\n\n**Bold** line'],
    fail: ['* one\n* two', '* a\n* b\n* c\n* d', '1. a\n2. b\n3. c'],
  },
  { check: { kind: 'lowercase' }, pass: ['autumn rain falls\nsoft on the roof'], fail: ['Autumn rain falls', '123 456'] },
  { check: { kind: 'uppercase' }, pass: ['KEEP GOING, 42 KM TO GO!'], fail: ['KEEP going!', '!!!'] },
  {
    check: { kind: 'ends_with', phrase: 'See you soon!' },
    pass: ['Thanks again. See you soon!', 'Thanks. see you soon!  \n', '"Thanks. See you soon!"'],
    fail: ['See you soon! Best, Ana', 'See you soon.'],
  },
  {
    check: { kind: 'starts_with', word: 'Imagine' },
    pass: ['Imagine a translator.', '**Imagine**, if you will', '  imagine this'],
    fail: ['Just imagine a translator.', 'Imagined worlds.'],
  },
  {
    check: { kind: 'paragraphs', n: 3 },
    pass: ['One.\n***\nTwo.\n***\nThree.', 'One. *** Two. *** Three.\n***\n'],
    fail: ['One.\n***\nTwo.', 'One.\n***\n***\nTwo.\n***\nThree.', 'One.\n\nTwo.\n\nThree.'],
  },
  { check: { kind: 'title' }, pass: ['<<Ode to the Sea>>\nWaves...'], fail: ['<Ode to the Sea>', '<<>>', '# Ode to the Sea'] },
  {
    check: { kind: 'postscript', marker: 'P.S.' },
    pass: ['See you Friday.\n\nP.S. Bring an umbrella.', 'Hi.\np. s. lunch is on me'],
    fail: ['See you Friday. PS bring an umbrella.', 'Hi. Note: lunch is on me.'],
  },
  {
    check: { kind: 'repeat_prompt', text: 'What are three ways to reduce food waste at home?' },
    pass: ['What are three ways to reduce food waste at home?\n1. Plan meals.'],
    fail: ['Here are three ways to reduce food waste at home: plan meals.'],
  },
  { check: { kind: 'placeholders', n: 3 }, pass: ['Dear [name], your [role] starts [date].'], fail: ['Dear [name], welcome.'] },
  {
    check: { kind: 'highlighted_sections', n: 2 },
    pass: ['The *debt crisis* and **bad harvests** mattered.'],
    fail: ['The *debt crisis* mattered.', 'Nothing ** highlighted * here'],
  },
  { check: { kind: 'quotation' }, pass: ['"Mondays are for naps."'], fail: ['Mondays are for "naps".', '"'] },
];

describe('checkResponse', () => {
  for (const { check, pass, fail } of cases) {
    it(`passes ${check.kind} when the response satisfies it`, () => {
      for (const response of pass) expect(checkResponse(check, response), response).toBe(true);
    });
    it(`fails ${check.kind} when the response does not satisfy it`, () => {
      for (const response of fail) expect(checkResponse(check, response), response).toBe(false);
    });
  }

  it('has a case for every kind of check used by the evaluation items', () => {
    const tested = new Set(cases.map((c) => c.check.kind));
    for (const item of EVAL_ITEMS) for (const check of item.checks) expect(tested.has(check.kind), check.kind).toBe(true);
  });
});

describe('EVAL_ITEMS', () => {
  it('holds 24 items with unique ids, each with at least one check, as plain JSON', () => {
    expect(EVAL_ITEMS).toHaveLength(24);
    expect(new Set(EVAL_ITEMS.map((i) => i.id)).size).toBe(24);
    expect(EVAL_ITEMS.every((i) => i.checks.length > 0 && i.prompt.length > 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(EVAL_ITEMS))).toEqual(EVAL_ITEMS);
  });
});

describe('scoreEvaluation', () => {
  const items: EvalItem[] = [
    { id: 'x', prompt: 'p', checks: [{ kind: 'no_commas' }, { kind: 'max_words', n: 3 }] },
    { id: 'y', prompt: 'p', checks: [{ kind: 'lowercase' }] },
    { id: 'z', prompt: 'p', checks: [{ kind: 'title' }] },
  ];

  it('reports prompt-level and instruction-level strict accuracy', () => {
    const score = scoreEvaluation(items, { x: 'Too, many words here', y: 'all lowercase', z: 'no title' });
    expect(score.perItem).toEqual([
      { id: 'x', passed: [false, false], allPassed: false },
      { id: 'y', passed: [true], allPassed: true },
      { id: 'z', passed: [false], allPassed: false },
    ]);
    expect(score.promptStrict).toBeCloseTo(1 / 3, 12);
    expect(score.instructionStrict).toBeCloseTo(1 / 4, 12);
  });

  it('accepts a Map of responses and scores a missing response as empty', () => {
    const score = scoreEvaluation(items, new Map([['x', 'No commas']]));
    expect(score.perItem[0]).toEqual({ id: 'x', passed: [true, true], allPassed: true });
    expect(score.perItem[1]?.allPassed).toBe(false);
    expect(score.promptStrict).toBeCloseTo(1 / 3, 12);
  });

  it('returns zeros for no items', () => {
    expect(scoreEvaluation([], {})).toEqual({ promptStrict: 0, instructionStrict: 0, perItem: [] });
  });
});
