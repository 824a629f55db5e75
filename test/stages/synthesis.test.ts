import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/stages/rng.js';
import {
  buildSynthesisPrompt,
  firstOpenNumber,
  isNoInputMarker,
  parseSynthesized,
  pickDemos,
} from '../../src/stages/synthesis.js';
import type { Task } from '../../src/stages/types.js';

const demos: Task[] = [
  { id: 'seed-01', instruction: 'Rewrite the following sentence in the passive voice.', input: 'The committee approved the budget.' },
  { id: 'seed-02', instruction: 'Suggest five names for a bakery.', input: '' },
];

describe('buildSynthesisPrompt', () => {
  it('renders the meta-prompt, the numbered demonstrations and the open next instruction exactly', () => {
    expect(buildSynthesisPrompt(demos)).toBe(
      [
        'Below is a numbered list of tasks for an AI assistant. Continue the list until it holds 20 new tasks.',
        'Guidelines for the new tasks:',
        '- Make them diverse: use a different verb in each, and mix kinds of task (writing, rewriting,',
        '  classification, question answering, brainstorming, math, coding, summarizing, extraction, advice).',
        '- Each task must be self-contained and answerable in text by a language model: nothing that needs',
        '  seeing, hearing, drawing, browsing or acting in the world.',
        '- Write each instruction in one or two sentences.',
        '- Some tasks come with an input, a concrete example to work on; the others have "Input: <noinput>".',
        '- Do not repeat a task that is already in the list.',
        '',
        '1. Instruction: Rewrite the following sentence in the passive voice.',
        '1. Input: The committee approved the budget.',
        '2. Instruction: Suggest five names for a bakery.',
        '2. Input: <noinput>',
        '3. Instruction:',
      ].join('\n'),
    );
  });

  it('asks for the requested number of tasks', () => {
    expect(buildSynthesisPrompt(demos, { numTasks: 8 })).toContain('until it holds 8 new tasks');
  });

  it('folds newlines inside a demonstration input into spaces so each field stays on one line', () => {
    const prompt = buildSynthesisPrompt([{ id: 'x', instruction: 'Explain this code.', input: 'def f(n):\n    return n' }]);
    expect(prompt).toContain('1. Input: def f(n): return n\n2. Instruction:');
  });

  it('leaves the open instruction without a trailing space', () => {
    expect(buildSynthesisPrompt(demos).endsWith('3. Instruction:')).toBe(true);
    expect(firstOpenNumber(demos)).toBe(3);
  });
});

describe('pickDemos', () => {
  const seeds: Task[] = Array.from({ length: 30 }, (_, i) => ({ id: `seed-${i}`, instruction: `Task ${i}`, input: '' }));

  it('draws five distinct seeds, the same ones for the same seed', () => {
    const first = pickDemos(seeds, 5, createRng(11));
    const again = pickDemos(seeds, 5, createRng(11));
    expect(first).toHaveLength(5);
    expect(new Set(first.map((d) => d.id)).size).toBe(5);
    expect(again).toEqual(first);
  });

  it('draws different seeds for different RNG seeds', () => {
    expect(pickDemos(seeds, 5, createRng(1))).not.toEqual(pickDemos(seeds, 5, createRng(2)));
  });

  it('returns the whole pool, shuffled, when it holds fewer than k tasks', () => {
    expect(pickDemos(seeds.slice(0, 3), 5, createRng(3))).toHaveLength(3);
  });
});

describe('parseSynthesized', () => {
  it('splits a clean continuation into items and drops the last one', () => {
    const continuation = [
      ' Write a haiku about winter.',
      '6. Input: <noinput>',
      '7. Instruction: Classify the email as spam or not spam.',
      '7. Input: You have won a free cruise! Click now.',
      '8. Instruction: Give three tips for learning',
    ].join('\n');
    const parsed = parseSynthesized(continuation, 6);
    expect(parsed.tasks).toEqual([
      { instruction: 'Write a haiku about winter.', input: '' },
      { instruction: 'Classify the email as spam or not spam.', input: 'You have won a free cruise! Click now.' },
    ]);
    expect(parsed.droppedLast).toBe(true);
    expect(parsed.unparsed).toBe(0);
  });

  it('keeps the last item when the engine reports the model stopped on its own', () => {
    const parsed = parseSynthesized(' Name a prime number.\n6. Input: <noinput>\n7. Instruction: Define entropy.', 6, {
      finishReason: 'stop',
    });
    expect(parsed.tasks.map((t) => t.instruction)).toEqual(['Name a prime number.', 'Define entropy.']);
    expect(parsed.droppedLast).toBe(false);
  });

  it('reads a missing Input line as no input', () => {
    const parsed = parseSynthesized(' List four planets.\n7. Instruction: Explain gravity.\n8. Instruction: x', 6);
    expect(parsed.tasks).toEqual([
      { instruction: 'List four planets.', input: '' },
      { instruction: 'Explain gravity.', input: '' },
    ]);
  });

  it('maps the no-input marker variants to an empty input', () => {
    for (const marker of ['<noinput>', '<no input>', 'None', 'none.', 'N/A', 'no input', 'No input required', 'NULL', '-']) {
      const parsed = parseSynthesized(` Tell a joke about cats.\n6. Input: ${marker}\n7. Instruction: next`, 6);
      expect(parsed.tasks, marker).toEqual([{ instruction: 'Tell a joke about cats.', input: '' }]);
      expect(isNoInputMarker(marker)).toBe(true);
    }
    expect(isNoInputMarker('None of the above applies here.')).toBe(false);
  });

  it('ignores wrong or missing item numbers, since items are delimited by their labels', () => {
    const continuation = [
      ' Describe a sunset in two sentences.',
      '3. Input: <noinput>',
      'Instruction: Convert 5 miles to kilometers.',
      'Input: None',
      '12. Instruction: Write a tweet about recycling.',
      '12. Input: <noinput>',
      '13. Instruction: cut off here',
    ].join('\n');
    expect(parseSynthesized(continuation, 6).tasks.map((t) => t.instruction)).toEqual([
      'Describe a sunset in two sentences.',
      'Convert 5 miles to kilometers.',
      'Write a tweet about recycling.',
    ]);
  });

  it('drops Output and Answer blocks the model adds after an item', () => {
    const continuation = [
      ' What is 12 times 7?',
      '6. Input: <noinput>',
      '6. Output: 12 times 7 is 84.',
      'This is because 12 * 7 = 84.',
      '',
      '7. Instruction: Suggest a name for a pet goldfish.',
      '7. Input: <noinput>',
      'Answer: Bubbles',
      '8. Instruction: Rewrite the sentence formally.',
      '8. Input: gonna be late, sorry',
      '9. Instruction:',
    ].join('\n');
    const parsed = parseSynthesized(continuation, 6);
    expect(parsed.tasks).toEqual([
      { instruction: 'What is 12 times 7?', input: '' },
      { instruction: 'Suggest a name for a pet goldfish.', input: '' },
      { instruction: 'Rewrite the sentence formally.', input: 'gonna be late, sorry' },
    ]);
    expect(parsed.answersDropped).toBe(2);
    expect(parsed.unparsed).toBe(0);
  });

  it('counts stray chatter after a blank line as unparsed and does not glue it to the previous field', () => {
    const continuation = [
      ' Name three primary colors.',
      '6. Input: <noinput>',
      '',
      'Sure! Here are some more tasks for you:',
      '',
      '7.   Instruction:    Explain   photosynthesis   briefly.  ',
      '7. Input:   <noinput>',
      '8. Instruction: Translate',
    ].join('\n');
    const parsed = parseSynthesized(continuation, 6);
    expect(parsed.tasks).toEqual([
      { instruction: 'Name three primary colors.', input: '' },
      { instruction: 'Explain photosynthesis briefly.', input: '' },
    ]);
    expect(parsed.unparsed).toBe(1);
  });

  it('keeps a multi-line input up to the next label', () => {
    const continuation = [
      ' Find the bug in this function.',
      '6. Input: def add(a, b):',
      '    return a - b',
      '7. Instruction: Write a riddle.',
      '7. Input: <noinput>',
      '8. Instruction: Summarize',
    ].join('\n');
    expect(parseSynthesized(continuation, 6).tasks[0]).toEqual({
      instruction: 'Find the bug in this function.',
      input: 'def add(a, b):\nreturn a - b',
    });
  });

  it('opens a new item at an unlabelled line numbered right after the current item', () => {
    const continuation = [
      ' Write a limerick about a dog.',
      '6. Input: <noinput>',
      '7. Give two synonyms for "happy".',
      '8. Instruction: Explain recursion to a child.',
      '8. Input: <noinput>',
      '9. Instruction: Last one',
    ].join('\n');
    expect(parseSynthesized(continuation, 6).tasks.map((t) => t.instruction)).toEqual([
      'Write a limerick about a dog.',
      'Give two synonyms for "happy".',
      'Explain recursion to a child.',
    ]);
  });

  it('keeps a numbered list inside an input as part of the input', () => {
    const continuation = [
      ' Rank these tasks by urgency.',
      '6. Input: Tasks:',
      '1. pay rent',
      '2. buy milk',
      '7. Instruction: Write a haiku about rain.',
      '8. Instruction: x',
    ].join('\n');
    expect(parseSynthesized(continuation, 6).tasks[0]).toEqual({
      instruction: 'Rank these tasks by urgency.',
      input: 'Tasks:\n1. pay rent\n2. buy milk',
    });
  });

  it('drops items repeated within one continuation and counts them', () => {
    const continuation = [
      ' Write a poem about the moon.',
      '6. Input: <noinput>',
      '7. Instruction: Write a poem about the moon.',
      '7. Input: None',
      '8. Instruction: write a poem about  the moon.',
      '9. Instruction: Write a poem about the moon.',
    ].join('\n');
    const parsed = parseSynthesized(continuation, 6);
    expect(parsed.tasks).toEqual([{ instruction: 'Write a poem about the moon.', input: '' }]);
    expect(parsed.repeated).toBe(2);
    expect(parsed.droppedLast).toBe(true);
  });

  it('handles markdown bold labels and Windows line endings', () => {
    const continuation = ' **Plan a three-day trip to Rome.**\r\n**6. Input:** <noinput>\r\n**7. Instruction:** Compare cats and dogs as pets.\r\n**7. Input:** N/A\r\n**8. Instruction:** Cut';
    expect(parseSynthesized(continuation, 6).tasks).toEqual([
      { instruction: 'Plan a three-day trip to Rome.', input: '' },
      { instruction: 'Compare cats and dogs as pets.', input: '' },
    ]);
  });

  it('accepts "Task N:" as an instruction label', () => {
    const continuation = ' Write a motto for a gym.\nTask 7: Explain the rules of chess briefly.\nTask 8: Cut';
    expect(parseSynthesized(continuation, 6).tasks.map((t) => t.instruction)).toEqual([
      'Write a motto for a gym.',
      'Explain the rules of chess briefly.',
    ]);
  });

  it('puts an instruction written on the line after its label into the item', () => {
    const continuation = '\nWrite a short speech for a wedding.\n6. Input: <noinput>\n7. Instruction:\nList five fruits.\n8. Instruction: x';
    expect(parseSynthesized(continuation, 6).tasks.map((t) => t.instruction)).toEqual([
      'Write a short speech for a wedding.',
      'List five fruits.',
    ]);
  });

  it('counts items whose instruction is empty and drops them', () => {
    const parsed = parseSynthesized(' \n6. Input: hello\n7. Instruction: Say hello in French.\n8. Instruction:', 6);
    expect(parsed.tasks).toEqual([{ instruction: 'Say hello in French.', input: '' }]);
    expect(parsed.emptyInstruction).toBe(1);
  });

  it('returns nothing and never throws on empty or garbage continuations', () => {
    expect(parseSynthesized('', 6).tasks).toEqual([]);
    expect(parseSynthesized('\n\n\n', 6).tasks).toEqual([]);
    const garbage = parseSynthesized(' ???\n\n#### \n<|endoftext|>\n', 6);
    expect(garbage.tasks).toEqual([]);
    expect(garbage.droppedLast).toBe(true);
  });

  it('keeps a second Input line for the same item out of the item and counts it', () => {
    const continuation = ' Translate to German.\n6. Input: Good night\n6. Input: Good morning\n7. Instruction: x';
    const parsed = parseSynthesized(continuation, 6);
    expect(parsed.tasks).toEqual([{ instruction: 'Translate to German.', input: 'Good night' }]);
    expect(parsed.unparsed).toBe(1);
  });
});
