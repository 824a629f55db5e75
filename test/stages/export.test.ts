import { describe, expect, it } from 'vitest';
import { lengthStats, toAlpaca, toMessages } from '../../src/stages/export.js';

const pair = { id: 'p1', instruction: 'Translate into French.', input: 'Good morning', response: 'Bonjour' };

describe('exporting kept pairs', () => {
  it('writes Alpaca rows with the response as output', () => {
    expect(toAlpaca(pair)).toEqual({ instruction: 'Translate into French.', input: 'Good morning', output: 'Bonjour' });
  });

  it('writes chat rows with the system message, the task with its input, and the answer', () => {
    expect(toMessages(pair).messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Translate into French.\nGood morning' },
      { role: 'assistant', content: 'Bonjour' },
    ]);
  });

  it('summarizes word lengths, with an empty list giving zeros', () => {
    expect(lengthStats(['one two', 'one two three four', '', 'a'])).toEqual({ count: 4, mean: 1.75, median: 1.5, max: 4 });
    expect(lengthStats([])).toEqual({ count: 0, mean: 0, median: 0, max: 0 });
  });
});
