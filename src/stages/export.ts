/**
 * Kept pairs in the common SFT formats, so users can take an iteration's data to any trainer: Alpaca-style
 * {instruction, input, output}, chat {messages: [system, user, assistant]} (TRL's conversational format) and
 * ShareGPT {system, conversations: [human, gpt]} (LLaMA-Factory's sharegpt formatting).
 */
import { wordCount } from './prompt-filters.js';
import { RESPONSE_SYSTEM_PROMPT, taskText } from './responses.js';
import type { Pair } from './types.js';

export interface AlpacaRow {
  instruction: string;
  input: string;
  output: string;
}

export interface MessagesRow {
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
}

export function toAlpaca(pair: Pair): AlpacaRow {
  return { instruction: pair.instruction, input: pair.input, output: pair.response };
}

/** The same conversation the trainer sees: the system message, the task (instruction + input), the answer. */
export function toMessages(pair: Pair, systemPrompt: string = RESPONSE_SYSTEM_PROMPT): MessagesRow {
  return {
    messages: [
      { role: 'system', content: systemPrompt },
      { role: 'user', content: taskText(pair) },
      { role: 'assistant', content: pair.response },
    ],
  };
}

export interface ShareGptRow {
  system: string;
  conversations: { from: 'human' | 'gpt'; value: string }[];
}

/** The same conversation as toMessages, as ShareGPT turns: the system prompt in its own column, then human, gpt. */
export function toShareGpt(pair: Pair, systemPrompt: string = RESPONSE_SYSTEM_PROMPT): ShareGptRow {
  return {
    system: systemPrompt,
    conversations: [
      { from: 'human', value: taskText(pair) },
      { from: 'gpt', value: pair.response },
    ],
  };
}

/** Word-count summary of a text field, for data cards. */
export interface LengthStats {
  count: number;
  mean: number;
  median: number;
  max: number;
}

export function lengthStats(texts: readonly string[]): LengthStats {
  return lengthStatsOfCounts(texts.map(wordCount));
}

/** The same from word counts alone. */
export function lengthStatsOfCounts(counts: readonly number[]): LengthStats {
  const words = [...counts].sort((a, b) => a - b);
  if (words.length === 0) return { count: 0, mean: 0, median: 0, max: 0 };
  const mid = Math.floor(words.length / 2);
  const median = words.length % 2 ? words[mid]! : (words[mid - 1]! + words[mid]!) / 2;
  return { count: words.length, mean: words.reduce((a, b) => a + b, 0) / words.length, median, max: words[words.length - 1]! };
}
