/**
 * The content digest of a local model source (a folder or a single file): sha256 over every file's relative
 * path, size and sha256. Imports are keyed by it, so a folder whose weights changed is imported again instead
 * of a stale copy being reused.
 *
 * Hashing hundreds of GB on every run start is not worth it: each file's sha256 is cached by its path, size,
 * mtime and inode (a JSON file in the store), so only new or changed files are read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

type Cache = Record<string, string>;

export interface DigestOptions {
  /** Where file hashes are cached between runs (null: no cache). */
  cacheFile: string | null;
  /** Called while large files are read (a heartbeat). */
  onProgress?: (bytes: number) => void;
}

export async function contentDigest(source: string, opts: DigestOptions): Promise<string> {
  const root = resolve(source);
  const cache = opts.cacheFile ? await loadCache(opts.cacheFile) : {};
  const info = await stat(root);
  const files = info.isDirectory() ? await listFiles(root) : [root];
  const digest = createHash('sha256');
  let changed = false;
  for (const file of files) {
    const s = await stat(file); // follows links: Hugging Face cache folders link to their blobs
    const key = `${file}|${s.size}|${s.mtimeMs}|${s.ino}`;
    let sha = cache[key];
    if (!sha) {
      sha = await sha256File(file, opts.onProgress);
      cache[key] = sha;
      changed = true;
    }
    digest.update(`${info.isDirectory() ? relative(root, file) : ''}\0${s.size}\0${sha}\n`);
  }
  if (changed && opts.cacheFile) await saveCache(opts.cacheFile, cache);
  return digest.digest('hex');
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(path);
  }
  return out;
}

async function sha256File(file: string, onProgress?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    onProgress?.(bytes);
  }
  return hash.digest('hex');
}

async function loadCache(file: string): Promise<Cache> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Cache) : {};
  } catch {
    return {}; // missing or damaged: hash again
  }
}

async function saveCache(file: string, cache: Cache): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, JSON.stringify(cache));
  await rename(tmp, file);
}
