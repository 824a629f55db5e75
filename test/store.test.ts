import { readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactError } from '../src/artifacts/store.js';
import { tempStore } from './support/env.js';

describe('the artifact store', () => {
  it('round-trips JSONL rows and names them by hash and count', async () => {
    const store = tempStore();
    const rows = [{ id: 'a', n: 1 }, { id: 'b', text: 'line\nbreak' }];
    const ref = await store.writeJsonl('runs/r/x.jsonl', rows);
    expect(ref.rows).toBe(2);
    expect(ref.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.readAll(ref)).toEqual(rows);
    expect(await store.refOf('runs/r/x.jsonl')).toEqual(ref);
  });

  it('leaves no temporary file behind and never a half-written target when a write fails', async () => {
    const store = tempStore();
    async function* failing() {
      yield { id: 1 };
      throw new Error('boom');
    }
    await expect(store.writeJsonl('runs/r/y.jsonl', failing())).rejects.toThrow('boom');
    expect(readdirSync(dirname(store.path('runs/r/y.jsonl')))).toEqual([]);
  });

  it('notices a file that changed after its ref was made', async () => {
    const store = tempStore();
    const ref = await store.writeJsonl('runs/r/z.jsonl', [{ id: 1 }]);
    writeFileSync(store.path(ref.uri), '{"id": 2}\n');
    await expect(store.readAll(ref)).rejects.toThrow(/changed after it was written/);
  });

  it('refuses uris that leave the store', () => {
    const store = tempStore();
    expect(() => store.path('../etc/passwd')).toThrow(ArtifactError);
    expect(() => store.path('/etc/passwd')).toThrow(ArtifactError);
    expect(store.path('runs/a/../b.jsonl')).toBe(`${store.root}/runs/b.jsonl`);
  });

  it('reports the line of a row that is not JSON', async () => {
    const store = tempStore();
    writeFileSync(store.path('bad.jsonl'), '{"id": 1}\n{oops\n');
    const ref = await store.refOf('bad.jsonl');
    await expect(store.readAll(ref)).rejects.toThrow('bad.jsonl:2: not valid JSON');
  });
});
