import { mkdtempSync, writeFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, readLines } from '../src/artifacts/lines.js';
import { createRng } from '../src/stages/rng.js';

const file = (content: string | Buffer) => {
  const path = join(mkdtempSync(join(tmpdir(), 'isheep-lines-')), 'f.jsonl');
  writeFileSync(path, content);
  return path;
};

async function all(path: string, limit = 1 << 20) {
  const out: string[] = [];
  for await (const line of readLines(path, limit)) out.push(line.text);
  return out;
}

describe('readLines', () => {
  it('splits on \\n, drops a trailing \\r, and keeps a last line without a newline', async () => {
    expect(await all(file('a\r\nb\n\nc'))).toEqual(['a', 'b', '', 'c']);
  });

  it('refuses a line over the limit before holding it, naming its number', async () => {
    const path = file(`short\n${'x'.repeat(5000)}\nafter\n`);
    await expect(all(path, 4096)).rejects.toThrow(`${path} line 2: longer than the limit of 4 KiB`);
  });

  it('reports a bad byte with its line and column (in characters)', async () => {
    const path = file(Buffer.concat([Buffer.from('ok\n€uro '), Buffer.from([0xc3, 0x28])]));
    await expect(all(path)).rejects.toThrow(`${path} line 2, column 6: not UTF-8 (byte 0xc3)`);
  });

  it('finds the first invalid byte exactly where Node\'s own UTF-8 check disagrees', () => {
    const rng = createRng(3);
    const pieces = [[0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xff]];
    for (let n = 0; n < 2000; n++) {
      const bytes = Uint8Array.from(Array.from({ length: 1 + rng.int(6) }, () => pieces[rng.int(pieces.length)]!).flat());
      const bad = firstInvalidUtf8(bytes);
      expect(bad === bytes.length).toBe(isUtf8(bytes));
      expect(isUtf8(bytes.subarray(0, bad))).toBe(true);
    }
  });
});
