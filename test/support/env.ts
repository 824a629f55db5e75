/**
 * Test fixtures: a real Temporal dev server (the pinned CLI), the workflow bundle built once, and this
 * host's workers wired to an engine and a temporary store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { EndpointPolicy } from '../../src/activities/endpoint-policy.js';
import { WorkerLogger } from '../../src/worker/logger.js';
import { Store } from '../../src/artifacts/store.js';
import { SubprocessEngine, type Engine } from '../../src/engine/runner.js';
import { loadTools } from '../../src/setup/tools.js';
import { SINGLE_PARTITION } from '../../src/temporal/dev-server.js';
import { createHostWorkers, WORKFLOWS_PATH } from '../../src/worker/workers.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from '../../src/workflows/search-attributes.js';

let quiet = false;
export function quietRuntime() {
  if (quiet) return;
  quiet = true;
  Runtime.install({ logger: new WorkerLogger('WARN') });
}

export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const cli = loadTools().temporalCli;
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(cli ? { executable: { type: 'existing-path', path: cli } } : {}),
      searchAttributes: [ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE],
      extraArgs: SINGLE_PARTITION.flatMap((v) => ['--dynamic-config-value', v]),
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundle;
}

export const FAKE_ENGINE = fileURLToPath(new URL('./fake-engine.mjs', import.meta.url));

export function fakeEngine(env: Record<string, string> = {}): Engine {
  return new SubprocessEngine({ command: [process.execPath, FAKE_ENGINE], env });
}

export function tempStore(): Store {
  return new Store(mkdtempSync(join(tmpdir(), 'isheep-store-')));
}

export async function hostWorkers(
  env: TestWorkflowEnvironment,
  store: Store,
  engine: Engine,
  roles?: { workflows?: boolean; data?: boolean; models?: boolean },
  endpoints?: EndpointPolicy,
): Promise<Worker[]> {
  return createHostWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    client: env.client,
    store,
    engine,
    slots: [{ devices: null }],
    workflowBundle: await workflowBundle(),
    ...(roles ? { roles } : {}),
    ...(endpoints ? { endpoints } : {}),
  });
}

/** Runs `fn` while the workers run, then shuts them down. */
export async function withWorkers<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    return await fn();
  } finally {
    workers.forEach((w) => w.shutdown());
    await running;
  }
}
