/**
 * MT-Bench on the real FastChat files (../shared/eval/mt_bench). The expected behaviour was derived by reading
 * fschat 0.2.36's fastchat/llm_judge/common.py, gen_judgment.py, gen_model_answer.py and show_result.py; each
 * block names the function it mirrors. The digests in "renders every question/turn exactly as FastChat" were
 * produced by running that source itself (play_a_match_single → run_judge_single, with chat_completion_openai
 * replaced by a recorder) on the synthetic answers below; nothing of FastChat's code or templates is copied here.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  MT_BENCH_CATEGORIES,
  NEED_REF_CATS,
  JUDGE_SAMPLING,
  aggregateMtBench,
  buildJudgeRequest,
  formatPythonTemplate,
  judgeTemplateName,
  mtBenchMessages,
  mtBenchSampling,
  parseJudgePrompts,
  parseMtBenchQuestions,
  parseMtBenchReferences,
  parseRating,
  referencesById,
  type MtBenchJudgment,
  type MtBenchQuestion,
  type MtBenchReference,
  type MtBenchTurn,
} from '../../src/stages/mt-bench.js';

function evalFile(relative: string): string {
  const path = fileURLToPath(new URL(`../../../shared/eval/${relative}`, import.meta.url));
  if (!existsSync(path)) {
    throw new Error(`missing benchmark file ${path}: the MT-Bench tests need ../shared/eval (see shared/eval/README.md)`);
  }
  return readFileSync(path, 'utf8');
}

const questions = parseMtBenchQuestions(evalFile('mt_bench/question.jsonl'));
const references = parseMtBenchReferences(evalFile('mt_bench/reference_answer/gpt-4.jsonl'));
const judgePrompts = parseJudgePrompts(evalFile('mt_bench/judge_prompts.jsonl'));
const referenceIndex = referencesById(references);
const referenceById = new Map(Object.values(referenceIndex).map((r) => [r.questionId, r]));
const question = (id: number): MtBenchQuestion => {
  const q = questions.find((x) => x.questionId === id);
  if (!q) throw new Error(`no question ${id}`);
  return q;
};

describe('parsing the FastChat files', () => {
  it('reads the 80 two-turn questions, ids 81–160, 10 per category in file order', () => {
    expect(questions).toHaveLength(80);
    expect(questions.map((q) => q.questionId)).toEqual(Array.from({ length: 80 }, (_, i) => 81 + i));
    for (const [i, category] of MT_BENCH_CATEGORIES.entries()) {
      const ids = questions.filter((q) => q.category === category).map((q) => q.questionId);
      expect(ids).toEqual(Array.from({ length: 10 }, (_, k) => 81 + 10 * i + k));
    }
    for (const q of questions) {
      expect(q.turns).toHaveLength(2);
      expect(q.turns.every((t) => t.length > 0)).toBe(true);
    }
    expect(question(81).turns[1]).toBe('Rewrite your previous response. Start every sentence with the letter A.');
    expect(questions.filter((q) => q.reference !== undefined)).toHaveLength(39);
  });

  it('attaches the 30 GPT-4 references to the reasoning, math and coding questions (ids 101–130)', () => {
    expect(references.map((r) => r.questionId)).toEqual(Array.from({ length: 30 }, (_, i) => 101 + i));
    for (const r of references) {
      expect(r.turns).toHaveLength(2);
      expect(NEED_REF_CATS).toContain(question(r.questionId).category);
    }
    // every question of a reference-guided category has one, and no other question has one
    for (const q of questions) expect(referenceById.has(q.questionId)).toBe(NEED_REF_CATS.includes(q.category));
    expect(question(101).category).toBe('reasoning');
    expect(referenceById.get(101)?.turns[0]).toMatch(/^If you have just overtaken the second person, your current position is now second place/);
    expect(question(111).category).toBe('math');
    expect(question(121).category).toBe('coding');
    expect(Object.keys(referenceIndex)).toHaveLength(30);
    expect(referenceIndex[130]?.questionId).toBe(130);
    expect(() => referencesById([references[0] as MtBenchReference, references[0] as MtBenchReference])).toThrow(/question 101 twice/);
  });

  it('reads the 8 judge prompts by name (load_judge_prompts)', () => {
    expect(Object.keys(judgePrompts).sort()).toEqual(
      [
        'pair-math-v1',
        'pair-math-v1-multi-turn',
        'pair-v2',
        'pair-v2-multi-turn',
        'single-math-v1',
        'single-math-v1-multi-turn',
        'single-v1',
        'single-v1-multi-turn',
      ].sort(),
    );
    for (const name of ['single-v1', 'single-math-v1', 'single-v1-multi-turn', 'single-math-v1-multi-turn']) {
      expect(judgePrompts[name]?.type).toBe('single');
      expect(judgePrompts[name]?.outputFormat).toBe('[[rating]]');
    }
    expect(judgePrompts['single-v1']?.systemPrompt).toBe('You are a helpful assistant.');
    expect(judgePrompts['single-v1-multi-turn']?.systemPrompt).toMatch(/^Please act as an impartial judge/);
  });

  it('refuses malformed lines with the line number', () => {
    expect(() => parseMtBenchQuestions('{"question_id": 1, "category": "x", "turns": ["a"]}')).toThrow(/line 1: turns/);
    expect(() => parseMtBenchQuestions('\n{oops')).toThrow(/line 2: not JSON/);
    expect(() => parseMtBenchReferences('{"question_id": 1, "choices": []}')).toThrow(/choices\[0\]\.turns/);
    expect(() => parseJudgePrompts('{"name": "x"}')).toThrow(/type must be a string/);
  });
});

describe("the model's conversation (gen_model_answer.py get_model_answers)", () => {
  const q = question(81);
  it('turn 1 is the first user turn; turn 2 carries the model\'s own turn-1 answer', () => {
    expect(mtBenchMessages(q, 1)).toEqual([{ role: 'user', content: q.turns[0] }]);
    expect(mtBenchMessages(q, 2, { turn1Answer: 'My blog post.', system: 'You are a helpful assistant.' })).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: q.turns[0] },
      { role: 'assistant', content: 'My blog post.' },
      { role: 'user', content: q.turns[1] },
    ]);
    expect(mtBenchMessages(q, 1, { system: '' })).toHaveLength(1);
    expect(() => mtBenchMessages(q, 2)).toThrow(/turn-1 answer/);
  });

  it('samples per category as temperature_config says (greedy below 1e-4), 1024 new tokens', () => {
    expect(mtBenchSampling('writing')).toEqual({ temperature: 0.7, doSample: true, maxNewTokens: 1024 });
    expect(mtBenchSampling('math')).toEqual({ temperature: 0, doSample: false, maxNewTokens: 1024 });
    expect(mtBenchSampling('stem').temperature).toBe(0.1);
    expect(mtBenchSampling('unknown').temperature).toBe(0.7);
  });
});

/** The synthetic answers the FastChat run used: braces, `$&` and `$1` must come through untouched. */
const syntheticAnswers = (id: number): [string, string] => [
  `Answer one to ${id}: {question} $& $1 {{x}} } {`,
  `Answer two to ${id}: {answer_1} $$ \\n "quoted"`,
];

describe('single-answer grading (common.py run_judge_single, gen_judgment.py make_judge_single / main)', () => {
  it('picks for every question and turn the template FastChat would', () => {
    // gen_judgment.py: question_math = category in NEED_REF_CATS → judges["math"] / ["math-mt"], else ["default"] / ["default-mt"]
    const expected = (category: string, turn: MtBenchTurn): string => {
      const math = ['math', 'reasoning', 'coding'].includes(category);
      if (turn === 1) return math ? 'single-math-v1' : 'single-v1';
      return math ? 'single-math-v1-multi-turn' : 'single-v1-multi-turn';
    };
    const counts: Record<string, number> = {};
    for (const q of questions) {
      for (const turn of [1, 2] as const) {
        const name = judgeTemplateName(q.category, turn);
        expect(name, `${q.questionId} turn ${turn}`).toBe(expected(q.category, turn));
        const request = buildJudgeRequest({
          question: q,
          turn,
          answers: syntheticAnswers(q.questionId),
          reference: referenceById.get(q.questionId),
          judgePrompts,
        });
        expect(request.template).toBe(name);
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }
    expect(counts).toEqual({ 'single-v1': 50, 'single-math-v1': 30, 'single-v1-multi-turn': 50, 'single-math-v1-multi-turn': 30 });
    expect(judgeTemplateName('arena-hard-200', 1)).toBe('single-math-v1');
  });

  it('renders every question/turn exactly as FastChat does (digests of its own run)', () => {
    // Digest input, per template, turn then question id order: `${id}\t${turn}\t${system}\0${user}\x01` for the
    // messages FastChat sent (conv.to_openai_api_messages()), computed from the fschat 0.2.36 run described above.
    const fastchat: Record<string, string> = {
      'single-v1': 'ec097b853a21cd3ce6232e24dcba774ce9118baf29907d53e28cd6f4e563ba6f',
      'single-math-v1': 'e67c9f1c3689e1e8fca78a0d08a0c31b5e0d05cea0835fb6a6dbb3ee218783af',
      'single-v1-multi-turn': '79adc1d61e0d754367a9a3535e2f4b15e8493b2b440c2dad2bcd83d52d930403',
      'single-math-v1-multi-turn': '71033ae4234c73fa81eea9fcd5c50ba5ad011b14d8c9b48b8b317171ad616265',
    };
    const hashes: Record<string, ReturnType<typeof createHash>> = {};
    for (const turn of [1, 2] as const) {
      for (const q of questions) {
        const r = buildJudgeRequest({
          question: q,
          turn,
          answers: syntheticAnswers(q.questionId),
          reference: referenceById.get(q.questionId),
          judgePrompts,
        });
        expect(r.messages.map((m) => m.role)).toEqual(['system', 'user']);
        hashes[r.template] ??= createHash('sha256');
        hashes[r.template]?.update(`${q.questionId}\t${turn}\t${r.messages[0]?.content}\0${r.messages[1]?.content}\x01`);
      }
    }
    const digests = Object.fromEntries(Object.entries(hashes).map(([k, h]) => [k, h.digest('hex')]));
    expect(digests).toEqual(fastchat);
    expect(JUDGE_SAMPLING).toEqual({ temperature: 0, maxNewTokens: 2048 });
  });

  it('fills single-v1 for question 81, turn 1: system prompt apart, question and answer in the user message', () => {
    const q = question(81);
    const r = buildJudgeRequest({ question: q, turn: 1, answers: ['Aloha! Hawaii was wonderful.'], judgePrompts });
    expect(r.system).toBe('You are a helpful assistant.');
    const template = judgePrompts['single-v1']?.promptTemplate as string;
    expect(r.user).toBe(template.replace('{question}', q.turns[0]).replace('{answer}', 'Aloha! Hawaii was wonderful.'));
    expect(r.user.startsWith('[Instruction]\nPlease act as an impartial judge')).toBe(true);
    expect(r.user.endsWith(
      `[Question]\n${q.turns[0]}\n\n[The Start of Assistant's Answer]\nAloha! Hawaii was wonderful.\n[The End of Assistant's Answer]`,
    )).toBe(true);
    expect(r.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: r.user },
    ]);
  });

  it('fills single-math-v1 for question 111 with ref_answer_1, and the multi-turn form with both references', () => {
    const q = question(111);
    const ref = referenceById.get(111) as MtBenchReference;
    const one = buildJudgeRequest({ question: q, turn: 1, answers: ['The area is 3.'], reference: ref, judgePrompts });
    expect(one.user).toContain(
      `[Question]\n${q.turns[0]}\n\n[The Start of Reference Answer]\n${ref.turns[0]}\n[The End of Reference Answer]\n\n[The Start of Assistant's Answer]\nThe area is 3.\n[The End of Assistant's Answer]`,
    );
    const two = buildJudgeRequest({ question: q, turn: 2, answers: ['The area is 3.', 'Pi times r squared.'], reference: ref, judgePrompts });
    expect(two.template).toBe('single-math-v1-multi-turn');
    expect(two.system).toBe(judgePrompts['single-math-v1-multi-turn']?.systemPrompt);
    expect(two.user).toContain(`### User:\n${q.turns[0]}\n\n### Reference answer:\n${ref.turns[0]}\n\n### User:\n${q.turns[1]}\n\n### Reference answer:\n${ref.turns[1]}`);
    expect(two.user).toContain(`### User:\n${q.turns[0]}\n\n### Assistant A:\nThe area is 3.\n\n### User:\n${q.turns[1]}\n\n### Assistant A:\nPi times r squared.`);
  });

  it('fills single-v1-multi-turn for question 81 (turn 2 judges the second answer in the whole conversation)', () => {
    const q = question(81);
    const r = buildJudgeRequest({ question: q, turn: 2, answers: ['First.', 'A second.'], judgePrompts });
    expect(r.template).toBe('single-v1-multi-turn');
    expect(r.user).toBe(
      `<|The Start of Assistant A's Conversation with User|>\n\n### User:\n${q.turns[0]}\n\n### Assistant A:\nFirst.\n\n### User:\n${q.turns[1]}\n\n### Assistant A:\nA second.\n\n<|The End of Assistant A's Conversation with User|>`,
    );
  });

  it('uses a reference only for NEED_REF_CATS, and demands one there', () => {
    const writing = question(81);
    const bogus: MtBenchReference = { questionId: 81, turns: ['SHOULD NOT APPEAR', 'NOR THIS'] };
    expect(buildJudgeRequest({ question: writing, turn: 1, answers: ['x'], reference: bogus, judgePrompts }).user).not.toContain('SHOULD NOT APPEAR');
    expect(() => buildJudgeRequest({ question: question(111), turn: 1, answers: ['x'], judgePrompts })).toThrow(/needs a reference/);
    expect(() =>
      buildJudgeRequest({ question: question(111), turn: 1, answers: ['x'], reference: referenceById.get(112), judgePrompts }),
    ).toThrow(/reference 112 handed in for question 111/);
    expect(() => buildJudgeRequest({ question: writing, turn: 2, answers: ['only one'], judgePrompts })).toThrow(/both answers/);
  });
});

describe('formatPythonTemplate (Python str.format as run_judge_single uses it)', () => {
  it('substitutes in one pass, keeps braces and $ patterns of values, unescapes {{ }}', () => {
    expect(formatPythonTemplate('Q: {question} A: {answer}', { question: '{answer}', answer: '$& $1 {{x}}' })).toBe('Q: {answer} A: $& $1 {{x}}');
    expect(formatPythonTemplate('{{literal}} {a}}}', { a: '1', unused: '2' })).toBe('{literal} 1}');
  });
  it('throws where Python raises', () => {
    expect(() => formatPythonTemplate('{missing}', {})).toThrow(/no value/);
    expect(() => formatPythonTemplate('a } b', {})).toThrow(/single '}'/);
    expect(() => formatPythonTemplate('a { b', {})).toThrow();
    expect(() => formatPythonTemplate('{x:>4}', { x: '1' })).toThrow(/unsupported/);
  });
});

describe('parseRating (common.py one_score_pattern, then one_score_pattern_backup, else -1)', () => {
  // Expected values are what FastChat's own regexes + ast.literal_eval gave for these strings.
  const cases: [string, number][] = [
    ['Rating: [[8]]', 8],
    ['The answer is good. Rating: [[8.5]]', 8.5],
    ['[[10]]', 10],
    ['Rating: [8]', 8], // backup pattern
    ['Rating: 8/10', -1],
    ['[[8/10]]', -1],
    ['[[ 8 ]]', -1],
    ['', -1],
    ['$ERROR$', -1], // API_ERROR_OUTPUT
    ["I'd give [[7]] but first [[5]]", 7], // first match wins
    ['Ref [1] says; verdict [[6]]', 6], // [[…]] is searched first, anywhere
    ['[[7]', 7], // backup finds "[7]"
    ['Score [[0]]', 0], // not clipped
    ['[[15]]', 15], // not clipped
    ['[[-3]]', -1],
    ['[[8.]]', 8],
    ['Rating: [[9]].\n\nExplanation', 9],
    ['**Rating:** [[ 9]]', -1],
    ['[[.5]]', -1],
    ['[[3.25]] extra [4]', 3.25],
    ['[[1e3]]', -1],
    ['[ [8] ]', 8],
    ['[[00]]', 0],
  ];
  it.each(cases)('%j → %d', (judgment, rating) => {
    expect(parseRating(judgment)).toBe(rating);
  });
  it('reads a leading-zero integer FastChat would crash on, and ignores non-ASCII digits', () => {
    expect(parseRating('rating [[08]]')).toBe(8); // ast.literal_eval('08') raises SyntaxError in FastChat
    expect(parseRating('Rating: [[٨]]')).toBe(-1); // Python's \d matches it, then literal_eval raises
  });
});

describe('aggregateMtBench (show_result.py display_result_single: score -1 dropped, then means)', () => {
  const j = (questionId: number, category: string, turn: MtBenchTurn, score: number): MtBenchJudgment => ({ questionId, category, turn, score });
  const judgments = [
    j(81, 'writing', 1, 8),
    j(81, 'writing', 2, 6),
    j(82, 'writing', 1, -1),
    j(82, 'writing', 2, 10),
    j(111, 'math', 1, 3),
    j(111, 'math', 2, -1),
    j(112, 'math', 1, 0),
    j(112, 'math', 2, 4.5),
  ];
  const s = aggregateMtBench(judgments);
  it('means per turn and overall over the parsable judgments only', () => {
    expect(s.byTurn['1']).toEqual({ mean: (8 + 3 + 0) / 3, n: 3, unparsable: 1 });
    expect(s.byTurn['2']).toEqual({ mean: (6 + 10 + 4.5) / 3, n: 3, unparsable: 1 });
    // the overall mean pools every judgment (here equal n per turn, so also the mean of the turn means)
    expect(s.overall).toEqual({ mean: (8 + 6 + 10 + 3 + 0 + 4.5) / 6, n: 6, unparsable: 2 });
    expect(s.unparsable).toBe(2);
    expect(s.total).toBe(8);
  });
  it('pools judgments, not turn means, when turns have different n', () => {
    const t = aggregateMtBench([j(81, 'writing', 1, 9), j(82, 'writing', 1, 9), j(81, 'writing', 2, 3), j(82, 'writing', 2, -1)]);
    expect(t.overall.mean).toBe(7);
    expect(((t.byTurn['1'].mean as number) + (t.byTurn['2'].mean as number)) / 2).toBe(6);
  });
  it('means per category and per category and turn, with n; empty cells are null', () => {
    expect(s.byCategory.writing).toEqual({ mean: 8, n: 3, unparsable: 1 });
    expect(s.byCategory.math).toEqual({ mean: 7.5 / 3, n: 3, unparsable: 1 });
    expect(s.byCategoryTurn.math?.['2']).toEqual({ mean: 4.5, n: 1, unparsable: 1 });
    expect(s.byCategory.coding).toEqual({ mean: null, n: 0, unparsable: 0 });
    expect(Object.keys(s.byCategory)).toEqual([...MT_BENCH_CATEGORIES]);
  });
  it('works end to end with parseRating on judge outputs', () => {
    const out = aggregateMtBench(
      ['Rating: [[7]]', 'no rating', '[9]'].map((text, i) => j(81 + i, 'stem', 1, parseRating(text))),
    );
    expect(out.byCategory.stem).toEqual({ mean: 8, n: 2, unparsable: 1 });
  });
});
