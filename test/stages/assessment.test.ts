import { describe, expect, it } from 'vitest';
import { ASSESSMENT_KINDS, ASSESSMENT_VARIANTS, buildAssessmentPrompt, parseScore } from '../../src/stages/assessment.js';

const pair = { instruction: 'Translate into German.', input: 'Good morning', response: 'Guten Morgen' };

describe('buildAssessmentPrompt', () => {
  it('renders the combined quality prompt exactly', () => {
    expect(buildAssessmentPrompt('quality', 'combined', pair)).toBe(
      [
        'You will rate the quality of the response to an instruction, on a scale from 1 to 10.',
        '',
        'Criteria:',
        '- Score 1: the response is incorrect, lengthy, unclear, or redundant.',
        '- Score 10: the response is correct, succinct, clear, and non-redundant.',
        '- Use the scores in between for responses with some of these flaws; the more serious the flaws, the lower the score.',
        '',
        'Reply on one line in the format <score>||<explanation>: first the score as a whole number from 1 to 10, then two vertical bars, then a one-sentence explanation.',
        '',
        'Now rate this one.',
        '',
        '[Instruction]',
        'Translate into German.',
        'Good morning',
        '',
        '[Response]',
        'Guten Morgen',
        '',
        '[Rating]',
      ].join('\n'),
    );
  });

  it('states the instruction-following criteria: continuing the instruction and ignoring the format score 1', () => {
    const prompt = buildAssessmentPrompt('following', 'combined', pair);
    expect(prompt).toContain('continues or restates the instruction instead of answering it');
    expect(prompt).toContain('ignores the format');
    expect(prompt).toContain('answers the instruction directly, follows the required format');
  });

  it('uses one short line of criteria in the simple variant', () => {
    const prompt = buildAssessmentPrompt('quality', 'simple', pair);
    expect(prompt).toContain('Criteria: a good response is correct, succinct, clear and free of redundancy.');
    expect(prompt).not.toContain('Score 1:');
  });

  it('shows three graded examples before the pair in the icl variant', () => {
    for (const kind of ASSESSMENT_KINDS) {
      const prompt = buildAssessmentPrompt(kind, 'icl', pair);
      expect(prompt.match(/^Example \d:$/gm)).toEqual(['Example 1:', 'Example 2:', 'Example 3:']);
      expect(prompt.indexOf('Example 3:')).toBeLessThan(prompt.indexOf('Now rate this one.'));
      // each example's judgment is itself in the requested format
      for (const line of prompt.split('\n').filter((l, i, all) => all[i - 1] === '[Rating]')) {
        expect(parseScore(line).ok).toBe(true);
      }
    }
  });

  it('asks for the <score>||<explanation> format in every variant', () => {
    for (const kind of ASSESSMENT_KINDS) {
      for (const variant of ASSESSMENT_VARIANTS) {
        expect(buildAssessmentPrompt(kind, variant, pair)).toContain('<score>||<explanation>');
      }
    }
  });

  it('omits the input line when the task has none', () => {
    const prompt = buildAssessmentPrompt('quality', 'simple', { instruction: 'Name a prime.', input: '', response: '7' });
    expect(prompt).toContain('[Instruction]\nName a prime.\n\n[Response]\n7');
  });
});

describe('parseScore', () => {
  const accepted: [string, number][] = [
    ['9||Correct and concise.', 9],
    ['10||Perfect.', 10],
    ['1||Wrong.', 1],
    ['  8 || Clear but a bit long.', 8],
    ['\n\n7||ok', 7],
    ['**8**||The answer is accurate.', 8],
    ['**8||** accurate', 8],
    ['Score: 9||Accurate', 9],
    ['score:9', 9],
    ['**Score:** 6 || Partly right', 6],
    ['Rating: 7/10 - decent', 7],
    ['8/10||good', 8],
    ['9.0||fine', 9],
    ['<9>||fine', 9],
    ['[10]||fine', 10],
    ['9', 9],
    ['9.', 9],
    ['6. The response is mostly correct.', 6],
    ['7 - mostly fine', 7],
    ['9||', 9],
    ['"8||ok"', 8],
  ];
  for (const [text, score] of accepted) {
    it(`reads ${JSON.stringify(text)} as ${score}`, () => {
      expect(parseScore(text)).toEqual({ ok: true, score });
    });
  }

  const outOfRange = ['0||Terrible.', '11||Beyond perfect.', '-3||bad', '100||great', 'Score: 0', '12/10||amazing'];
  for (const text of outOfRange) {
    it(`rejects ${JSON.stringify(text)} as out of range`, () => {
      expect(parseScore(text)).toEqual({ ok: false, reason: 'out_of_range' });
    });
  }

  const unparsable = [
    '',
    '   ',
    'I would rate this response 8 out of 10.',
    'The response deserves a 9||',
    '<score>||<explanation>',
    'score||The answer is good.',
    '8.5||between good and great',
    '7-8||somewhere in between',
    '8/9||odd scale',
    '9th place',
    'Eight||spelled out',
    '||9',
    'Rating: excellent',
    'As an AI language model, I cannot rate this.',
  ];
  for (const text of unparsable) {
    it(`rejects ${JSON.stringify(text)} as unparsable`, () => {
      expect(parseScore(text)).toEqual({ ok: false, reason: 'unparsable' });
    });
  }
});
