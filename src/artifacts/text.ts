/** Small artifacts shared by the activities: a whole text file written atomically, and generations by row id. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ArtifactRef, Store } from './store.js';

/** Writes `text` to `uri` through a temporary file and a rename: a reader sees the old file or the new one. */
export async function writeText(store: Store, uri: string, text: string): Promise<void> {
  const target = store.path(uri);
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, text);
  await rename(tmp, target);
}

/** A generate job's output as id → text. */
export async function textsById(store: Store, ref: ArtifactRef): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const row of store.readJsonl<{ id: string; text: string }>(ref)) out.set(row.id, row.text);
  return out;
}
