/**
 * Step 1 of I-SHEEP, prompt synthesis: a meta-prompt, 5 seed demonstrations as a numbered list, and the
 * next number left open, sent as a raw completion (no chat template). Then the parser that splits the
 * model's continuation back into (instruction, input) items.
 */
import type { Rng } from './rng.js';
import type { Task, TaskText } from './types.js';

/** Demonstrations per synthesis call (paper: 5). */
export const NUM_DEMOS = 5;
/** How many new tasks the meta-prompt asks for (paper: ~20). */
export const NUM_TASKS_REQUESTED = 20;
/** Written in place of an empty input in the demonstrations. */
export const NO_INPUT_MARKER = '<noinput>';
/** Sampling for synthesis and for answering (paper): temperature 1.0, top_p 0.95, up to 1000 new tokens. */
export const GENERATION_SAMPLING = { temperature: 1.0, topP: 0.95, maxNewTokens: 1000 } as const;

/** The meta-prompt text that precedes the demonstrations. */
export function synthesisPreamble(numTasks: number = NUM_TASKS_REQUESTED): string {
  return [
    `Below is a numbered list of tasks for an AI assistant. Continue the list until it holds ${numTasks} new tasks.`,
    'Guidelines for the new tasks:',
    '- Make them diverse: use a different verb in each, and mix kinds of task (writing, rewriting,',
    '  classification, question answering, brainstorming, math, coding, summarizing, extraction, advice).',
    '- Each task must be self-contained and answerable in text by a language model: nothing that needs',
    '  seeing, hearing, drawing, browsing or acting in the world.',
    '- Write each instruction in one or two sentences.',
    `- Some tasks come with an input, a concrete example to work on; the others have "Input: ${NO_INPUT_MARKER}".`,
    '- Do not repeat a task that is already in the list.',
  ].join('\n');
}

/**
 * The full synthesis prompt: preamble, a blank line, the demonstrations numbered from 1 as
 * `N. Instruction: …` / `N. Input: …` (or the no-input marker), and `M. Instruction:` for M = demos+1,
 * with no trailing space, for the model to continue.
 */
export function buildSynthesisPrompt(demos: readonly Task[], opts: { numTasks?: number } = {}): string {
  const lines = [synthesisPreamble(opts.numTasks), ''];
  demos.forEach((demo, i) => {
    const n = i + 1;
    lines.push(`${n}. Instruction: ${oneLine(demo.instruction)}`);
    lines.push(`${n}. Input: ${demo.input.trim() === '' ? NO_INPUT_MARKER : oneLine(demo.input)}`);
  });
  lines.push(`${demos.length + 1}. Instruction:`);
  return lines.join('\n');
}

/** The number the open item of a prompt built from `demos` carries: pass it to parseSynthesized. */
export function firstOpenNumber(demos: readonly Task[]): number {
  return demos.length + 1;
}

/** k demonstrations drawn without replacement from the seed pool. */
export function pickDemos(seeds: readonly Task[], k: number = NUM_DEMOS, rng: Rng): Task[] {
  return rng.sample(seeds, k);
}

/** Newlines inside a demonstration would break the list format: fold them into spaces. */
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

export interface ParsedSynthesis {
  /** The items kept, in order. */
  tasks: TaskText[];
  /** Whether the last item was dropped as possibly cut off. */
  droppedLast: boolean;
  /** Non-blank lines that belonged to no item: stray chatter, or text after a blank line that no label opened. */
  unparsed: number;
  /** Items dropped because an earlier item of the same continuation had the same instruction and input. */
  repeated: number;
  /** Items dropped because their instruction was empty. */
  emptyInstruction: number;
  /** Output/Answer/Response/Solution blocks the model wrote and the parser discarded. */
  answersDropped: number;
}

export interface ParseOptions {
  /**
   * Why generation stopped. The paper drops the last item of every continuation, since it is often cut
   * off by the token limit; that is the default ('length' or absent). Pass 'stop' when the engine reports
   * the model ended on its own (EOS or a stop string) to keep the last item.
   */
  finishReason?: 'stop' | 'length';
}

/** Input values meaning "no input"; compared after trimming, lower-casing and removing a final period. */
const NO_INPUT_VALUES = new Set([
  '<noinput>',
  '<no input>',
  '<none>',
  '<empty>',
  'noinput',
  'no input',
  'no input.',
  'none',
  '(none)',
  'n/a',
  'na',
  'null',
  'nil',
  'empty',
  '-',
  '--',
  '""',
  "''",
]);

/** True when an input value is one of the no-input markers ('<noinput>', 'None', 'N/A', 'no input', …). */
export function isNoInputMarker(value: string): boolean {
  const v = value.trim().toLowerCase().replace(/\.$/, '').trim();
  return v === '' || NO_INPUT_VALUES.has(v) || /^<?\s*no[\s_-]*input(?: (?:required|needed|provided))?\s*>?$/.test(v);
}

type Label = 'instruction' | 'input' | 'answer';

/**
 * A labelled line: optional markdown decoration (`**`, `#`, `-`, `>`), an optional number (`7.`, `7)`, `7:`),
 * the label (Instruction/Task, Input, or Output/Answer/Response/Solution), optional decoration, a colon,
 * and the rest of the line.
 */
const LABELLED_LINE =
  /^[\s*#>_-]*(?:(\d+)\s*[.):]?\s*)?[*_]*\s*(instruction|task|input|output|answer|response|solution)(?:\s*\d+)?\s*[*_]*\s*:\s*[*_]*\s*(.*)$/i;
/** A bare numbered line, `8. Write …` or `8) Write …`, without a label. */
const NUMBERED_LINE = /^[\s*#]*(\d+)\s*[.)]\s+(.*\S.*)$/;

interface Item {
  number: number;
  instruction: string[];
  input: string[] | null;
}

/**
 * Splits a synthesis continuation back into items. `continuation` starts right after the open
 * `N. Instruction:` of the prompt, and `firstNumber` is that N.
 *
 * Rules:
 * - Items are delimited by labels, not numbers: a line `[N.] Instruction: …` (or `Task: …`) opens an item,
 *   whatever its number, or without one. The continuation's first line is the open item's instruction.
 * - A line `[N.] Input: …` sets the current item's input; a missing Input line means ''.
 *   No-input markers ('<noinput>', 'None', 'N/A', 'no input', …) become ''.
 * - `Output:` / `Answer:` / `Response:` / `Solution:` lines and everything after them up to the next
 *   Instruction label are discarded (counted in answersDropped).
 * - An unlabelled line `M. text` opens a new item when M is the number right after the current item's
 *   (models often drop the "Instruction:" label); other numbers are treated as text.
 * - Other lines continue the current field, joined with '\n'. A blank line closes the field: text that
 *   follows it without a label is stray and counted in unparsed.
 * - The last item is dropped (droppedLast) unless opts.finishReason is 'stop'; this happens before the
 *   checks below, so a cut-off item never survives as a shorter "repeat" or empty item.
 * - Items with an empty instruction, and items identical (instruction and input, case and spacing aside)
 *   to an earlier item of the same continuation, are dropped and counted.
 * Never throws.
 */
export function parseSynthesized(continuation: string, firstNumber: number, opts: ParseOptions = {}): ParsedSynthesis {
  const items: Item[] = [{ number: firstNumber, instruction: [], input: null }];
  let field: 'instruction' | 'input' | 'closed' | 'answer' = 'instruction';
  let unparsed = 0;
  let answersDropped = 0;

  const lines = continuation.replace(/\r\n?/g, '\n').split('\n');
  lines.forEach((rawLine, lineIndex) => {
    const current = items[items.length - 1] as Item;
    const line = rawLine.trim();
    // The first line continues the prompt's open "N. Instruction:" and is the instruction itself.
    if (lineIndex === 0) {
      if (line !== '') current.instruction.push(line);
      return;
    }
    if (line === '') {
      if (field !== 'answer') field = 'closed';
      return;
    }
    const labelled = LABELLED_LINE.exec(line);
    if (labelled) {
      const label = labelOf(labelled[2] as string);
      const number = labelled[1] === undefined ? current.number + 1 : Number(labelled[1]);
      const rest = (labelled[3] ?? '').trim();
      if (label === 'instruction') {
        items.push({ number, instruction: rest === '' ? [] : [rest], input: null });
        field = 'instruction';
      } else if (label === 'input') {
        if (current.input === null) {
          current.input = rest === '' ? [] : [rest];
          field = 'input';
        } else {
          unparsed++; // a second Input for the same item
          field = 'closed';
        }
      } else {
        answersDropped++;
        field = 'answer';
      }
      return;
    }
    const numbered = NUMBERED_LINE.exec(line);
    if (numbered && Number(numbered[1]) === current.number + 1) {
      items.push({ number: current.number + 1, instruction: [(numbered[2] as string).trim()], input: null });
      field = 'instruction';
      return;
    }
    if (field === 'instruction') current.instruction.push(line);
    else if (field === 'input') (current.input ?? []).push(line);
    else if (field === 'closed') unparsed++;
    // field === 'answer': part of a discarded answer block
  });

  const finished = opts.finishReason === 'stop';
  const droppedLast = !finished && items.length > 0;
  const complete = droppedLast ? items.slice(0, -1) : items;

  const tasks: TaskText[] = [];
  const seen = new Set<string>();
  let repeated = 0;
  let emptyInstruction = 0;
  for (const item of complete) {
    const instruction = cleanField(item.instruction);
    const rawInput = cleanField(item.input ?? []);
    const input = isNoInputMarker(rawInput) ? '' : rawInput;
    if (instruction === '') {
      emptyInstruction++;
      continue;
    }
    const key = `${instruction.toLowerCase().replace(/\s+/g, ' ')}\u0000${input.toLowerCase().replace(/\s+/g, ' ')}`;
    if (seen.has(key)) {
      repeated++;
      continue;
    }
    seen.add(key);
    tasks.push({ instruction, input });
  }
  return { tasks, droppedLast, unparsed, repeated, emptyInstruction, answersDropped };
}

function labelOf(word: string): Label {
  const w = word.toLowerCase();
  if (w === 'instruction' || w === 'task') return 'instruction';
  if (w === 'input') return 'input';
  return 'answer';
}

/** Joins a field's lines, collapses runs of spaces, and strips markdown bold/italic wrappers left around it. */
function cleanField(lines: readonly string[]): string {
  return lines
    .map((l) => l.replace(/[ \t]+/g, ' ').trim())
    .join('\n')
    .replace(/^[*_]+\s*/, '')
    .replace(/\s*[*_]+$/, '')
    .trim();
}
