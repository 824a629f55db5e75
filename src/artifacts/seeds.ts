/**
 * Reading a user's seed file. Two shapes are accepted, one JSON object per line:
 *   {"instruction": "...", "input": "..."}                       (input optional; id optional)
 *   {"instruction": "...", "instances": [{"input": "...", "output": "..."}]}   (self-instruct's seed_tasks.jsonl)
 * Every bad line is reported with its number; nothing is silently skipped.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Task } from '../stages/types.js';
import { formatBytes, LineError, readLines } from './lines.js';

export const BUILTIN_SEEDS = 'builtin:default';

/**
 * Limits that keep a worker's memory bounded whatever the file: each seed is copied into up to
 * synthesis.promptsPerRound meta-prompts, so a seed of megabytes would make gigabytes of prompts. Self-instruct's
 * 175 seeds are under 1 KiB each.
 */
export const SEED_LIMITS = {
  fileBytes: 64 << 20,
  lineBytes: 1 << 20,
  /** Characters of an instruction, and of an input. */
  fieldChars: 20_000,
  tasks: 100_000,
} as const;

const field = (name: string) => z.string().max(SEED_LIMITS.fieldChars, `${name} is longer than ${SEED_LIMITS.fieldChars} characters`);

const seedLine = z.object({
  id: z.union([z.string().max(256), z.number()]).optional(),
  instruction: field('instruction').trim().min(1, 'instruction is empty'),
  input: field('input').optional(),
  instances: z.array(z.object({ input: field('instances[].input').optional() }).loose()).optional(),
}).loose();

export class SeedFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`seed file ${file} is not usable:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SeedFileError';
  }
}

export function resolveSeedFile(file: string, projectRoot: string): string {
  return file === BUILTIN_SEEDS ? join(projectRoot, 'data', 'seed_tasks.jsonl') : file;
}

/** Reads and validates a seed file; throws SeedFileError listing every bad line (up to 20). */
export async function readSeedFile(path: string): Promise<Task[]> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new SeedFileError(path, [err.code === 'ENOENT' ? 'the file does not exist on this worker' : `cannot read it: ${err.message}`]);
  });
  if (!info.isFile()) throw new SeedFileError(path, [info.isDirectory() ? 'it is a folder, not a JSONL file' : 'it is not a regular file']);
  if (info.size > SEED_LIMITS.fileBytes) {
    throw new SeedFileError(path, [`it is ${formatBytes(info.size)}, over the limit of ${formatBytes(SEED_LIMITS.fileBytes)} for a seed file`]);
  }
  const tasks: Task[] = [];
  const problems: string[] = [];
  const seenIds = new Set<string>();
  try {
    for await (const { number, text } of readLines(path, SEED_LIMITS.lineBytes)) {
      if (tasks.length >= SEED_LIMITS.tasks) throw new SeedFileError(path, [`it holds more than ${SEED_LIMITS.tasks} seed tasks`]);
      const problem = addSeedLine(text, number, tasks, seenIds);
      if (problem) problems.push(problem);
    }
  } catch (err) {
    // A line too long or not UTF-8 stops the reading: report it with the problems found before it.
    if (err instanceof LineError) problems.push(err.message.slice(path.length + 1));
    else throw err;
  }
  if (problems.length > 0) throw new SeedFileError(path, problems.slice(0, 20).concat(problems.length > 20 ? [`… and ${problems.length - 20} more`] : []));
  if (tasks.length === 0) throw new SeedFileError(path, ['it holds no seed task']);
  return tasks;
}

/** Parses one line into `tasks`; returns the problem with it, if any. */
function addSeedLine(line: string, lineNo: number, tasks: Task[], seenIds: Set<string>): string | null {
  if (line.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return `line ${lineNo}: not valid JSON`;
  }
  const parsed = seedLine.safeParse(json);
  if (!parsed.success) {
    return `line ${lineNo}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'line'}: ${i.message}`).join('; ')}`;
  }
  const row = parsed.data;
  const id = row.id === undefined ? `seed-${lineNo}` : String(row.id);
  if (seenIds.has(id)) return `line ${lineNo}: id ${JSON.stringify(id)} is used twice`;
  seenIds.add(id);
  const input = row.input ?? row.instances?.[0]?.input ?? '';
  tasks.push({ id, instruction: row.instruction.trim(), input: input.trim() });
  return null;
}
