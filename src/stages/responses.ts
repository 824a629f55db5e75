/**
 * Step 3 of I-SHEEP, response generation: what the answering model is sent for one task.
 * The base model (iteration 1) gets the raw instruction text; fine-tuned models get their chat template.
 */
import type { Task } from './types.js';

/** The system prompt fine-tuned models answer under (paper). */
export const RESPONSE_SYSTEM_PROMPT = 'You are a helpful assistant.';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A raw text completion (base model) or a chat request the engine renders with the model's template. */
export type ResponseRequest = { kind: 'completion'; prompt: string } | { kind: 'chat'; messages: ChatMessage[] };

/** The user-visible task text: the instruction, then the input on a new line when there is one. */
export function taskText(task: Pick<Task, 'instruction' | 'input'>): string {
  const instruction = task.instruction.trim();
  const input = task.input.trim();
  return input === '' ? instruction : `${instruction}\n${input}`;
}

/** The request answering `task` zero-shot; useChatTemplate is false for the base model, true after fine-tuning. */
export function buildResponseRequest(task: Pick<Task, 'instruction' | 'input'>, useChatTemplate: boolean): ResponseRequest {
  const text = taskText(task);
  if (!useChatTemplate) return { kind: 'completion', prompt: text };
  return {
    kind: 'chat',
    messages: [
      { role: 'system', content: RESPONSE_SYSTEM_PROMPT },
      { role: 'user', content: text },
    ],
  };
}
