import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSeedFile, resolveSeedFile, SeedFileError } from '../src/artifacts/seeds.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';
import { tempStore } from './support/env.js';

function file(text: string): string {
  const path = join(tempStore().root, 'seeds.jsonl');
  writeFileSync(path, text);
  return path;
}

describe('reading a seed file', () => {
  it('reads the bundled seed set', async () => {
    const tasks = await readSeedFile(resolveSeedFile('builtin:default', PROJECT_ROOT));
    expect(tasks.length).toBeGreaterThanOrEqual(20);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
  });

  it('accepts self-instruct seed rows with instances, and rows without ids', async () => {
    const tasks = await readSeedFile(file('{"instruction": "Sort these words.", "instances": [{"input": "b a", "output": "a b"}]}\n\n{"instruction": " Name a prime. "}\n'));
    expect(tasks).toEqual([
      { id: 'seed-1', instruction: 'Sort these words.', input: 'b a' },
      { id: 'seed-3', instruction: 'Name a prime.', input: '' },
    ]);
  });

  it('lists every bad line with its number', async () => {
    const err = await readSeedFile(file('{"instruction": "ok", "id": "x"}\n[1,2\n{"instruction": ""}\n{"instruction": "again", "id": "x"}\n')).catch((e) => e);
    expect(err).toBeInstanceOf(SeedFileError);
    expect(err.problems).toEqual([
      'line 2: not valid JSON',
      'line 3: instruction: instruction is empty',
      'line 4: id "x" is used twice',
    ]);
  });

  it('refuses a missing or empty file', async () => {
    await expect(readSeedFile('/nonexistent/seeds.jsonl')).rejects.toThrow(/does not exist/);
    await expect(readSeedFile(file('\n\n'))).rejects.toThrow(/no seed task/);
  });
});
