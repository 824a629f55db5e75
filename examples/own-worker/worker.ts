/**
 * A team's own worker process: its workflows on its own task queue, and isheep's three roles beside them, each a
 * plugin on a Worker of the role's queue. Against a dev server (`temporal server start-dev`), from the repo root:
 *   ISHEEP_PYTHON=.isheep/venv/bin/python npx tsx examples/own-worker/worker.ts
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { CPU_QUEUE, engineCommand, GPU_QUEUE, isheepDataActivities, isheepModelSlot, isheepWorkflows, Store, SubprocessEngine, WORKFLOW_QUEUE } from 'isheep';

const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
const store = new Store(resolve(process.env.ISHEEP_STORE ?? '.isheep/store')); // one folder for all isheep workers
const engine = new SubprocessEngine(engineCommand({ python: process.env.ISHEEP_PYTHON ?? 'python3' }));

const workers = await Promise.all([
  // Ours: our workflows and activities on our queue.
  Worker.create({
    connection,
    taskQueue: 'my-team',
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
    activities: { announce: async (text: string) => console.log(`announce: ${text}`) },
  }),
  // isheep's: runs on WORKFLOW_QUEUE ('isheep'), their data work on CPU_QUEUE, their model jobs on GPU_QUEUE.
  Worker.create({ connection, taskQueue: WORKFLOW_QUEUE, plugins: [isheepWorkflows()] }),
  Worker.create({ connection, taskQueue: CPU_QUEUE, plugins: [isheepDataActivities({ store, engine })] }),
  // One model slot, one job at a time on its devices (null: CPU); a second slot needs a connection of its own.
  Worker.create({ connection, taskQueue: GPU_QUEUE, plugins: [isheepModelSlot({ store, engine, devices: process.env.SLOT_DEVICES ?? null })] }),
]);
console.log(`polling my-team, ${WORKFLOW_QUEUE}, ${CPU_QUEUE}, ${GPU_QUEUE}; store ${store.root}`);
await Promise.all(workers.map((w) => w.run())); // until SIGINT/SIGTERM (the SDK's Runtime shuts them down)
await connection.close();
