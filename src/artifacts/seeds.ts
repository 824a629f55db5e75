/**
 * Reading a user's seed file. Two shapes are accepted, one JSON object per line:
 *   {"instruction": "...", "input": "..."}                       (input optional; id optional)
 *   {"instruction": "...", "instances": [{"input": "...", "output": "..."}]}   (self-instruct's seed_tasks.jsonl)
 * Every bad line is reported with its number; nothing is silently skipped.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Task } from '../stages/types.js';

export const BUILTIN_SEEDS = 'builtin:default';

const seedLine = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  instruction: z.string().trim().min(1, 'instruction is empty'),
  input: z.string().optional(),
  instances: z.array(z.object({ input: z.string().optional() }).loose()).optional(),
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
  if (!existsSync(path)) throw new SeedFileError(path, ['the file does not exist on this worker']);
  const tasks: Task[] = [];
  const problems: string[] = [];
  const seenIds = new Set<string>();
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      problems.push(`line ${lineNo}: not valid JSON`);
      continue;
    }
    const parsed = seedLine.safeParse(json);
    if (!parsed.success) {
      problems.push(`line ${lineNo}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'line'}: ${i.message}`).join('; ')}`);
      continue;
    }
    const row = parsed.data;
    const id = row.id === undefined ? `seed-${lineNo}` : String(row.id);
    if (seenIds.has(id)) {
      problems.push(`line ${lineNo}: id ${JSON.stringify(id)} is used twice`);
      continue;
    }
    seenIds.add(id);
    const input = row.input ?? row.instances?.[0]?.input ?? '';
    tasks.push({ id, instruction: row.instruction.trim(), input: input.trim() });
  }
  if (problems.length > 0) throw new SeedFileError(path, problems.slice(0, 20).concat(problems.length > 20 ? [`… and ${problems.length - 20} more`] : []));
  if (tasks.length === 0) throw new SeedFileError(path, ['it holds no seed task']);
  return tasks;
}
