/**
 * The artifact store: a folder (local, or shared between hosts) that holds every file a run makes.
 * Activities pass refs ({uri, sha256, rows}) through Temporal, never the data. A uri is relative to the
 * store root, so hosts may mount the same store at different paths.
 *
 * Writes go to a temporary name and are renamed into place, so a retried activity never reads half a file.
 * JSONL is streamed both ways: memory stays flat however large a stage grows.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { once } from 'node:events';
import { LineError, readLines } from './lines.js';

/** A JSONL file in the store. */
export interface ArtifactRef {
  /** Path relative to the store root. */
  uri: string;
  sha256: string;
  rows: number;
}

/** A model folder in the store (hashing hundreds of GB of weights per handoff is not worth it). */
export interface ModelRef {
  uri: string;
  /** Which model this is, for people: the source id or the iteration that trained it. */
  label: string;
}

/**
 * Why an artifact cannot be used: `missing` (not there: on a shared store perhaps not yet visible, so worth a
 * retry), `corrupt` (changed after it was written, or not the JSONL it should be: a retry reads the same bytes),
 * `refused` (a uri outside the store).
 */
export type ArtifactProblem = 'missing' | 'corrupt' | 'refused';

export class ArtifactError extends Error {
  constructor(
    message: string,
    readonly problem: ArtifactProblem = 'corrupt',
  ) {
    super(message);
    this.name = 'ArtifactError';
  }
}

/**
 * The longest JSONL line the store reads: far above any row the method writes (a generation of 32k tokens is
 * about 128 KiB), and low enough that a damaged file cannot exhaust a worker's memory.
 */
export const MAX_JSONL_LINE_BYTES = 16 << 20;

export class Store {
  constructor(readonly root: string) {
    if (!isAbsolute(root)) throw new ArtifactError(`store root must be an absolute path, got ${root}`);
  }

  /** The absolute path of a uri; refuses uris that would leave the store. */
  path(uri: string): string {
    const clean = normalize(uri);
    if (isAbsolute(clean) || clean === '..' || clean.startsWith(`..${sep}`)) {
      throw new ArtifactError(`artifact uri ${JSON.stringify(uri)} points outside the store`, 'refused');
    }
    return join(this.root, clean);
  }

  exists(uri: string): boolean {
    return existsSync(this.path(uri));
  }

  /** Writes rows as JSONL atomically and returns the ref. */
  async writeJsonl(uri: string, rows: Iterable<unknown> | AsyncIterable<unknown>): Promise<ArtifactRef> {
    const writer = await this.jsonlWriter(uri);
    try {
      for await (const row of rows) await writer.write(row);
      return await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }

  /** A streaming JSONL writer: rows go to a temporary file that commit() renames into place. */
  async jsonlWriter(uri: string): Promise<JsonlWriter> {
    const target = this.path(uri);
    await mkdir(dirname(target), { recursive: true });
    return new JsonlWriter(uri, target);
  }

  /** Streams the rows of a ref, checking the file is the one the ref names. */
  async *readJsonl<T = unknown>(ref: ArtifactRef): AsyncGenerator<T> {
    const file = this.path(ref.uri);
    if (!existsSync(file)) throw new ArtifactError(`artifact ${ref.uri} is missing from the store at ${this.root}`, 'missing');
    const hash = createHash('sha256');
    let rows = 0;
    try {
      for await (const line of readLines(file, MAX_JSONL_LINE_BYTES, (chunk) => hash.update(chunk))) {
        if (line.text.trim() === '') continue;
        let row: T;
        try {
          row = JSON.parse(line.text) as T;
        } catch {
          throw new ArtifactError(`${ref.uri}:${line.number}: not valid JSON`, 'corrupt');
        }
        rows++;
        yield row;
      }
    } catch (err) {
      if (err instanceof LineError) throw new ArtifactError(`${ref.uri}: ${err.message.slice(file.length + 1)}`, 'corrupt');
      throw err;
    }
    const digest = hash.digest('hex');
    if (digest !== ref.sha256) {
      throw new ArtifactError(`${ref.uri} changed after it was written (sha256 ${digest}, expected ${ref.sha256})`);
    }
    if (rows !== ref.rows) throw new ArtifactError(`${ref.uri} has ${rows} rows, expected ${ref.rows}`);
  }

  async readAll<T = unknown>(ref: ArtifactRef): Promise<T[]> {
    const rows: T[] = [];
    for await (const row of this.readJsonl<T>(ref)) rows.push(row);
    return rows;
  }

  /** Hashes and counts an existing JSONL file (one the engine wrote), making a ref for it. */
  async refOf(uri: string): Promise<ArtifactRef> {
    const file = this.path(uri);
    if (!existsSync(file)) throw new ArtifactError(`expected output ${uri} was not written`, 'missing');
    const hash = createHash('sha256');
    let rows = 0;
    try {
      for await (const line of readLines(file, MAX_JSONL_LINE_BYTES, (chunk) => hash.update(chunk))) if (line.text.trim() !== '') rows++;
    } catch (err) {
      if (err instanceof LineError) throw new ArtifactError(`${uri}: ${err.message.slice(file.length + 1)}`, 'corrupt');
      throw err;
    }
    return { uri, sha256: hash.digest('hex'), rows };
  }
}

export class JsonlWriter {
  private readonly tmp: string;
  private readonly out;
  private readonly hash = createHash('sha256');
  private rows = 0;

  constructor(
    private readonly uri: string,
    private readonly target: string,
  ) {
    this.tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    this.out = createWriteStream(this.tmp);
  }

  async write(row: unknown): Promise<void> {
    const line = `${JSON.stringify(row)}\n`;
    this.hash.update(line);
    this.rows++;
    if (!this.out.write(line)) await once(this.out, 'drain');
  }

  async commit(): Promise<ArtifactRef> {
    this.out.end();
    await once(this.out, 'finish');
    await rename(this.tmp, this.target);
    return { uri: this.uri, sha256: this.hash.digest('hex'), rows: this.rows };
  }

  async abort(): Promise<void> {
    this.out.destroy();
    await rm(this.tmp, { force: true });
  }
}
