/**
 * Run identity on disk: runs/<name>/run.json records the run that owns the folder (workflow id, run id, config
 * hash). It is written before the run writes anything else, and a run whose folder another run owns is refused
 * (its files are left as they are) unless the config asks to resume it — then the new run takes the folder over,
 * and the earlier owners stay listed.
 *
 * Two runs cannot race for one folder: the workflow id is the run name, and Temporal runs one execution of an id
 * at a time, so an owner other than the caller is always a closed run.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Store } from '../artifacts/store.js';

export const OWNER_FILE = 'run.json';

export interface ClaimInput {
  /** The run's folder in the store: runs/<name>. */
  run: string;
  name: string;
  workflowId: string;
  runId: string;
  /** The parsed config; its hash (without `resume`) is recorded. */
  config: Record<string, unknown>;
  resume: boolean;
}

export interface RunOwner {
  name: string;
  workflowId: string;
  runId: string;
  configSha256: string;
  claimedAt: string;
  /** Earlier owners, oldest first, when runs resumed this folder. */
  previous: { runId: string; configSha256: string; claimedAt: string }[];
}

/** The folder belongs to another run, or its owner file is damaged: the input (name, resume) must change. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

export async function claimRunFolder(store: Store, input: ClaimInput): Promise<RunOwner> {
  const ownerUri = `${input.run}/${OWNER_FILE}`;
  const existing = await readOwner(store, ownerUri, input.name);
  if (existing?.runId === input.runId) return existing; // a retry of this run's own claim
  const howTo = `To continue it, start the run again with "resume": true (isheep start --resume); to start afresh, remove the folder with \`isheep rm ${input.name}\`.`;
  if (existing && !input.resume) {
    throw new RunFolderError(
      `run folder ${input.run} belongs to an earlier run of ${input.name} (run id ${existing.runId}, started ${existing.claimedAt}); its files are kept. ${howTo}`,
    );
  }
  if (!existing && !input.resume && (await holdsFiles(store.path(input.run)))) {
    throw new RunFolderError(`run folder ${input.run} holds files of an earlier run that recorded no owner; they are kept. ${howTo}`);
  }
  const owner: RunOwner = {
    name: input.name,
    workflowId: input.workflowId,
    runId: input.runId,
    configSha256: configSha256(input.config),
    claimedAt: new Date().toISOString(),
    previous: existing ? [...existing.previous, { runId: existing.runId, configSha256: existing.configSha256, claimedAt: existing.claimedAt }] : [],
  };
  await writeOwner(store.path(ownerUri), owner, existing === null);
  return owner;
}

async function readOwner(store: Store, uri: string, name: string): Promise<RunOwner | null> {
  let text: string;
  try {
    text = await readFile(store.path(uri), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as RunOwner;
    if (typeof owner.runId === 'string' && Array.isArray(owner.previous)) return owner;
  } catch {
    /* reported below */
  }
  throw new RunFolderError(`${uri} is damaged, so the owner of its folder is unknown; remove the folder with \`isheep rm ${name}\``);
}

async function holdsFiles(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder)).length > 0;
  } catch {
    return false;
  }
}

/** Atomic; `exclusive` fails if another claim got there first (link() refuses an existing name). */
async function writeOwner(file: string, owner: RunOwner, exclusive: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, `${JSON.stringify(owner, null, 2)}\n`);
  try {
    if (exclusive) {
      await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') throw new RunFolderError(`${file} was claimed by another run at the same moment`);
        throw err;
      });
    } else {
      await rename(tmp, file);
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

/** sha256 of the config with sorted keys, without `resume` (resuming does not change what the run is). */
export function configSha256(config: Record<string, unknown>): string {
  const { resume: _resume, ...rest } = config;
  return createHash('sha256').update(stableJson(rest)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
