import { describe, expect, it } from 'vitest';
import { buildResponseRequest, RESPONSE_SYSTEM_PROMPT } from '../../src/stages/responses.js';

describe('buildResponseRequest', () => {
  it('sends the base model the raw instruction text', () => {
    expect(buildResponseRequest({ instruction: ' Name three rivers in Africa. ', input: '' }, false)).toEqual({
      kind: 'completion',
      prompt: 'Name three rivers in Africa.',
    });
  });

  it('puts the input on a new line after the instruction when there is one', () => {
    expect(buildResponseRequest({ instruction: 'Translate into German.', input: 'Good morning' }, false)).toEqual({
      kind: 'completion',
      prompt: 'Translate into German.\nGood morning',
    });
  });

  it('sends fine-tuned models a chat with the helpful-assistant system prompt', () => {
    expect(buildResponseRequest({ instruction: 'Translate into German.', input: 'Good morning' }, true)).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Translate into German.\nGood morning' },
      ],
    });
    expect(RESPONSE_SYSTEM_PROMPT).toBe('You are a helpful assistant.');
  });
});
