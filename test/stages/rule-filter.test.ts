import { describe, expect, it } from 'vitest';
import {
  applyRuleFilter,
  asksUserBack,
  firstBrokenRule,
  hasFakeDialogueTurn,
  hasInputInInstruction,
  hasPlaceholderInput,
  isEmptyResponse,
  isMultipleChoice,
  RULES,
} from '../../src/stages/rule-filter.js';
import type { Pair } from '../../src/stages/types.js';

const pair = (response: string, instruction = 'Explain why the sky is blue.', input = ''): Pair => ({
  id: 'p',
  instruction,
  input,
  response,
});

describe('empty_response', () => {
  it('drops empty and whitespace-only responses', () => {
    expect(isEmptyResponse(pair(''))).toBe(true);
    expect(isEmptyResponse(pair(' \n\t '))).toBe(true);
    expect(isEmptyResponse(pair('Rayleigh scattering.'))).toBe(false);
  });
});

describe('fake_dialogue_turn', () => {
  it('drops responses that open a new turn after a newline, in any case', () => {
    for (const turn of ['User:', 'assistant:', 'HUMAN:', 'System:', 'Question:', 'Output:', '### Human:', '**User**:']) {
      expect(hasFakeDialogueTurn(pair(`Because of scattering.\n${turn} why?`)), turn).toBe(true);
    }
  });

  it('keeps responses that mention these words without starting a turn', () => {
    expect(hasFakeDialogueTurn(pair('The user: a person who uses the system.'))).toBe(false);
    expect(hasFakeDialogueTurn(pair('Output: 42'))).toBe(false); // not after a newline
    expect(hasFakeDialogueTurn(pair('Every user should back up.\nSystems fail.'))).toBe(false);
  });
});

describe('asks_user_back', () => {
  it('drops responses that ask the user for more instead of answering', () => {
    const asking = [
      'Could you please provide the text you would like me to summarize?',
      "I'd be happy to help! Can you tell me more about your budget?",
      'What would you like the poem to be about?',
      'Sure. Which city are you referring to?',
      'Please provide more details about the project so I can help.',
      'To answer this, I need more information about your situation.',
      "You haven't provided the sentence to rewrite.",
      'Do you want me to write it in formal English?',
    ];
    for (const response of asking) expect(asksUserBack(pair(response)), response).toBe(true);
  });

  it('keeps answers that merely contain questions in a list, a quotation, or a closing offer', () => {
    const answering = [
      'Here are three interview questions:\n\n1. Could you describe a time you solved a hard problem?\n2. What do you want to learn next?',
      '1. Could you tell me about your last project?\n2. Why this company?',
      '"Could you tell me the way to the station?" she asked. The old man pointed north.',
      'The sky is blue because of Rayleigh scattering.\n\nWould you like me to explain it in more detail?',
      'Rayleigh scattering makes short wavelengths scatter more. Let me know if you have other questions!',
    ];
    for (const response of answering) expect(asksUserBack(pair(response)), response).toBe(false);
  });
});

describe('multiple_choice', () => {
  it('drops responses laid out as lettered options on separate lines', () => {
    expect(isMultipleChoice(pair('Which gas do plants absorb?\nA) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Helium'))).toBe(true);
    expect(isMultipleChoice(pair('(a) red\n(b) blue\n(c) green'))).toBe(true);
    expect(isMultipleChoice(pair('Pick one:\n  A. Paris\n  B. Rome\n  C. Madrid'))).toBe(true);
  });

  it('drops responses with inline lettered options', () => {
    expect(isMultipleChoice(pair('The answer is one of A) 3 B) 4 C) 5.'))).toBe(true);
  });

  it('keeps responses with only two options or a plain numbered list', () => {
    expect(isMultipleChoice(pair('A) yes\nB) no'))).toBe(false);
    expect(isMultipleChoice(pair('1. Preheat the oven.\n2. Mix flour.\n3. Bake.'))).toBe(false);
    expect(isMultipleChoice(pair('Plan A: leave early. Plan B: take the bus.'))).toBe(false);
  });
});

describe('placeholder_input', () => {
  it('drops pairs whose instruction or input is a placeholder', () => {
    for (const input of ['no input', 'No input required.', '<noinput>', '<input>', 'None', 'N/A', 'null', '<paragraph>']) {
      expect(hasPlaceholderInput(pair('An answer.', 'Summarize the text.', input)), input).toBe(true);
    }
    expect(hasPlaceholderInput(pair('An answer.', 'Summarize this text: <insert text here>'))).toBe(true);
    expect(hasPlaceholderInput(pair('An answer.', 'Write a letter to [your name] about the rent.'))).toBe(true);
    expect(hasPlaceholderInput(pair('An answer.', 'Write a letter to [insert name] about the rent.'))).toBe(true);
    expect(hasPlaceholderInput(pair('An answer.', 'None'))).toBe(true);
  });

  it('keeps real inputs that contain such words', () => {
    expect(hasPlaceholderInput(pair('An answer.', 'Classify the sentence.', 'None of the guests arrived on time.'))).toBe(false);
    expect(hasPlaceholderInput(pair('An answer.', 'Is 3 < 5 and 7 > 2?'))).toBe(false);
    expect(hasPlaceholderInput(pair('An answer.', 'Explain the rule.', ''))).toBe(false);
  });
});

describe('input_in_instruction', () => {
  it('drops pairs whose non-empty input already appears in the instruction', () => {
    expect(hasInputInInstruction(pair('x', 'Translate "good night" into Italian.', 'good night'))).toBe(true);
    expect(hasInputInInstruction(pair('x', 'Sort these: 3, 1,  2', '3, 1, 2'))).toBe(true);
  });

  it('keeps pairs with an empty input or one not in the instruction', () => {
    expect(hasInputInInstruction(pair('x', 'Translate into Italian.', 'good night'))).toBe(false);
    expect(hasInputInInstruction(pair('x', 'Translate into Italian.', ''))).toBe(false);
  });
});

describe('applyRuleFilter', () => {
  const pairs: Pair[] = [
    pair('The sky scatters blue light most.'),
    pair(''),
    pair('Blue light.\nUser: thanks'),
    pair('Could you please provide more context?'),
    pair('A) blue\nB) red\nC) green'),
    pair('Answer.', 'Summarize the text.', '<noinput>'),
    pair('Ciao.', 'Translate hello into Italian.', 'hello'),
    pair('\nUser: Could you provide more?', 'Describe it.', 'none'),
  ];

  it('keeps clean pairs and counts each drop under the first matching rule, in RULES order', () => {
    const result = applyRuleFilter(pairs);
    expect(result.kept).toEqual([pairs[0]]);
    expect(result.dropped).toEqual({
      empty_response: 1,
      fake_dialogue_turn: 2,
      asks_user_back: 1,
      multiple_choice: 1,
      placeholder_input: 1,
      input_in_instruction: 1,
    });
  });

  it('applies only the enabled rules', () => {
    const result = applyRuleFilter(pairs, ['empty_response', 'placeholder_input']);
    expect(result.kept).toHaveLength(5);
    expect(result.dropped).toEqual({
      empty_response: 1,
      fake_dialogue_turn: 0,
      asks_user_back: 0,
      multiple_choice: 0,
      placeholder_input: 2,
      input_in_instruction: 0,
    });
  });

  it('keeps everything when no rule is enabled', () => {
    expect(applyRuleFilter(pairs, []).kept).toHaveLength(pairs.length);
    expect(firstBrokenRule(pairs[1] as Pair, [])).toBeNull();
    expect(RULES).toHaveLength(6);
  });
});
