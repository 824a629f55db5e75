/**
 * A host's workers in a process of their own, so crash tests can kill -9 them. Uses the deterministic test
 * engine. Environment: TEMPORAL_ADDRESS, ISHEEP_STORE, WORKER_ROLES (default models), FAKE_ENGINE_SLOW_MS, and
 * ISHEEP_METRICS_PORT (Prometheus metrics on 127.0.0.1:PORT, installed as `isheep worker --metrics-port` does).
 * Prints "ready" once polling.
 */
import { NativeConnection } from '@temporalio/worker';
import { Store } from '../../src/artifacts/store.js';
import { createHostWorkers, runWorkers } from '../../src/worker/workers.js';
import { installRuntime } from '../../src/worker/telemetry.js';
import { fakeEngine, workflowBundle } from './env.js';

const metricsPort = process.env.ISHEEP_METRICS_PORT;
installRuntime({ metrics: metricsPort ? { port: Number(metricsPort), host: '127.0.0.1' } : null });
const roles = new Set((process.env.WORKER_ROLES ?? 'models').split(','));
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const workers = await createHostWorkers({
  connection,
  namespace: 'default',
  store: new Store(process.env.ISHEEP_STORE!),
  engine: fakeEngine(process.env.FAKE_ENGINE_SLOW_MS ? { FAKE_ENGINE_SLOW_MS: process.env.FAKE_ENGINE_SLOW_MS } : {}),
  slots: [{ devices: null }],
  roles: { workflows: roles.has('workflows'), data: roles.has('data'), models: roles.has('models') },
  ...(roles.has('workflows') ? { workflowBundle: await workflowBundle() } : {}),
});
const abort = new AbortController();
process.once('SIGTERM', () => abort.abort());
const running = runWorkers(workers, abort.signal); // closes the connection once the workers stop
console.log('ready');
await running;
