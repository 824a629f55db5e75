/**
 * isheep as an npm package that a team adds to its own workers: `npm run build` and `npm pack` give a tarball that
 * installs into an empty project, and a copy of examples/own-worker there (the test engine as its engine) runs a
 * small run to its end: the team's workflow on its own queue starts iSheepRun, which isheep's plugins carry out.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPreset } from '../src/config/presets.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';
import type { RunResult } from '../src/workflows/types.js';
import { FAKE_ENGINE, startTemporal } from './support/env.js';

const exec = promisify(execFile);
const EXAMPLE = join(PROJECT_ROOT, 'examples', 'own-worker');
const ENGINE_LINE = "new SubprocessEngine(engineCommand({ python: process.env.ISHEEP_PYTHON ?? 'python3' }))";
const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** The environment of a nested npm: without the variables of the npm that runs these tests (its package, its prefix). */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.has(k.toLowerCase())));
}

/** Runs a command; a failure names it and shows the end of its output. */
async function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, env: npmEnv(), timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed: ${e.message}\n${`${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(-4000)}`);
  }
}

let env: TestWorkflowEnvironment;
let started: Promise<unknown> = Promise.resolve();
let project: string;
let tarball: string;
let worker: ChildProcess | undefined;
let workerOutput = '';
const temps: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};

beforeAll(async () => {
  started = startTemporal().then((e) => (env = e));
  // An empty project of a team with its own Temporal dependencies, installed while isheep builds.
  project = temp('isheep-own-worker-');
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'own-worker', private: true, type: 'module' }, null, 2)}\n`);
  const own = ['@temporalio/worker', '@temporalio/workflow', 'tsx'].map((d) => `${d}@${pkg.dependencies[d]}`);
  const install = (specs: string[]) => run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-exact', ...specs], project);
  const ownDeps = install(own);
  ownDeps.catch(() => {});
  await run('npm', ['run', 'build'], PROJECT_ROOT);
  const packed = temp('isheep-pack-');
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packed], PROJECT_ROOT);
  const files = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  expect(files, 'npm pack made one tarball').toHaveLength(1);
  tarball = join(packed, files[0]!);
  await ownDeps;
  await install([tarball]);

  // The example, as it is, but with the test engine (a Node script speaking the engine's protocol) as its engine.
  const source = readFileSync(join(EXAMPLE, 'worker.ts'), 'utf8');
  if (!source.includes(ENGINE_LINE)) throw new Error(`examples/own-worker/worker.ts no longer makes its engine with ${ENGINE_LINE}: update this test`);
  writeFileSync(join(project, 'worker.ts'), source.replace(ENGINE_LINE, `new SubprocessEngine({ command: [process.execPath, ${JSON.stringify(FAKE_ENGINE)}] })`));
  writeFileSync(join(project, 'workflows.ts'), readFileSync(join(EXAMPLE, 'workflows.ts'), 'utf8'));
  await started;
}, 420_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
  }
  await started.catch(() => {}); // a server that came up while the build failed is stopped too
  await env?.teardown();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('the npm package in a team\'s own project', () => {
  it('installs with its workflows, its engine and its CLI found inside the installed package', async () => {
    const installed = join(project, 'node_modules', 'isheep');
    const probe = "import * as i from 'isheep'; console.log(JSON.stringify({ workflows: i.WORKFLOWS_PATH, engine: i.ENGINE_PATH, queues: [i.WORKFLOW_QUEUE, i.CPU_QUEUE, i.GPU_QUEUE] }))";
    const paths = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', probe], project)) as { workflows: string; engine: string; queues: string[] };
    expect(paths.workflows).toBe(join(installed, 'dist', 'workflows', 'index.js'));
    expect(existsSync(paths.workflows)).toBe(true);
    expect(paths.engine).toBe(join(installed, 'engine'));
    expect(existsSync(join(paths.engine, 'isheep_engine', '__main__.py'))).toBe(true);
    expect(existsSync(join(installed, 'data', 'seed_tasks.jsonl'))).toBe(true);
    expect(existsSync(join(installed, 'src')), 'the package ships dist/, not the TypeScript source').toBe(false);
    expect(paths.queues).toEqual(['isheep', 'isheep-cpu', 'isheep-gpu']);
    expect(await run(join(project, 'node_modules', '.bin', 'isheep'), ['--help'], project)).toMatch(/I-SHEEP self-alignment runs on Temporal/);
  });

  it('runs a small run through the example worker: the team\'s workflow on its queue, isheep\'s plugins beside it', async () => {
    const store = temp('isheep-own-store-');
    worker = spawn(join(project, 'node_modules', '.bin', 'tsx'), ['worker.ts'], {
      cwd: project,
      env: { ...npmEnv(), TEMPORAL_ADDRESS: env.address, ISHEEP_STORE: store },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (b: Buffer) => (workerOutput += b.toString()));
    worker.stderr!.on('data', (b: Buffer) => (workerOutput += b.toString()));
    const exited = new Promise<never>((_, reject) => worker!.once('exit', (code, signal) => reject(new Error(`the example worker exited (${code ?? signal}):\n${workerOutput.slice(-4000)}`))));
    exited.catch(() => {});
    const polling = new Promise<void>((ok) => {
      const check = () => (workerOutput.includes('polling my-team') ? ok() : setTimeout(check, 200));
      check();
    });
    await Promise.race([polling, exited]);

    const name = 'own-worker-run';
    const config = withPreset('demo', {
      name,
      iterations: 1,
      model: { base: 'fake-model' },
      synthesis: { targetInstructions: 6, promptsPerRound: 2, maxRounds: 3 },
      engine: { shardSize: 16 },
      // The benchmark files: this repository's (the installed package has none beside it).
      evaluation: { data: resolve(PROJECT_ROOT, '..', 'shared', 'eval'), suites: { ifeval: { limit: 4 }, mtBench: { limit: 1 } } },
    });
    const finalModel = await Promise.race([
      env.client.workflow.execute('alignAndAnnounce', { taskQueue: 'my-team', workflowId: `${name}-pipeline`, args: [config] }),
      exited,
    ]);
    const result = (await env.client.workflow.getHandle(name).result()) as RunResult;
    expect(result.summaries.map((s) => s.iteration)).toEqual([1]);
    expect(finalModel).toBe(result.finalModel.uri);
    expect(existsSync(join(store, 'runs', name, 'report.json'))).toBe(true);
    expect(workerOutput).toContain(`announce: ${name}: 1 iteration(s), final model ${result.finalModel.uri}`);
  }, 240_000);
});
