/**
 * Where the tools live: the file scripts/setup.mjs writes, with environment overrides.
 *   ISHEEP_PYTHON        the engine's Python (default: the virtual environment setup made)
 *   TEMPORAL_CLI_PATH    the temporal CLI whose dev server we start
 *   ISHEEP_CACHE         where heavy caches live (default ~/.cache/isheep)
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The engine's Python package (engine/isheep_engine), in this checkout or in the installed npm package. */
export const ENGINE_PATH = join(PROJECT_ROOT, 'engine');

export interface Tools {
  python: string;
  temporalCli: string | null;
  enginePath: string;
  cache: string;
}

export function loadTools(): Tools {
  const file = join(PROJECT_ROOT, '.isheep', 'tools.json');
  const written: Partial<Tools> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Tools>) : {};
  const python = process.env.ISHEEP_PYTHON ?? written.python;
  if (!python) throw new Error('the engine Python is unknown: run `npm run setup` (or set ISHEEP_PYTHON)');
  return {
    python,
    temporalCli: process.env.TEMPORAL_CLI_PATH ?? written.temporalCli ?? null,
    enginePath: written.enginePath ?? ENGINE_PATH,
    cache: process.env.ISHEEP_CACHE ?? written.cache ?? join(homedir(), '.cache', 'isheep'),
  };
}

/**
 * argv and environment that run the Python engine: `python` is an interpreter with the engine's requirements
 * (engine/requirements.lock); the engine's code is this checkout's or the installed package's (ENGINE_PATH).
 * The result is a SubprocessEngine's options: `new SubprocessEngine(engineCommand({ python }))`.
 */
export function engineCommand(tools: Pick<Tools, 'python'> & Partial<Pick<Tools, 'enginePath'>>): { command: string[]; env: Record<string, string> } {
  return {
    command: [tools.python, '-m', 'isheep_engine'],
    env: { PYTHONPATH: tools.enginePath ?? ENGINE_PATH, PYTHONUNBUFFERED: '1', TOKENIZERS_PARALLELISM: 'false', HF_HUB_DISABLE_TELEMETRY: '1' },
  };
}
