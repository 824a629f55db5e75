/**
 * The workers of one host: the workflow worker (queue isheep), the data worker (isheep-cpu) and one model
 * worker per slot (isheep-gpu), each slot running one model job at a time with its devices pinned through
 * CUDA_VISIBLE_DEVICES. Without GPUs there is one CPU slot. Each worker is made of isheep's plugins (./plugins.ts),
 * the same ones a team adds to its own workers.
 */
import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { EndpointPolicy } from '../activities/endpoint-policy.js';
import { Store } from '../artifacts/store.js';
import type { Engine } from '../engine/runner.js';
import { CPU_QUEUE, GPU_QUEUE, WORKFLOW_QUEUE } from '../queues.js';
import { isheepDataActivities, isheepModelSlot, isheepWorkflows, WORKFLOWS_PATH } from './plugins.js';
import { judgmentMetrics, slotMetricTags } from './telemetry.js';

export { WORKFLOWS_PATH };

export interface Slot {
  /** Devices of this slot, e.g. '0,1'; null for the CPU slot. */
  devices: string | null;
}

/** The GPUs this host has, by index (empty without an NVIDIA driver). */
export function visibleGpus(): string[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').map((s) => s.trim()).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Model slots: `gpus` is 'all', 'none' or a list like '0,1,2,3'; each slot takes `slotSize` GPUs (tensor
 * parallel generation or multi-GPU training). Without GPUs there is one CPU slot.
 */
export function planSlots(gpus: string = 'all', slotSize = 1, available: string[] = visibleGpus()): Slot[] {
  if (!Number.isInteger(slotSize) || slotSize < 1) throw new Error(`--slot-size must be a positive whole number, got ${slotSize}`);
  const ids = gpus === 'all' ? available : gpus === 'none' ? [] : gpus.split(',').map((g) => g.trim()).filter(Boolean);
  for (const id of ids) {
    if (!/^\d+$/.test(id)) throw new Error(`--gpus expects all, none or indices like 0,1; got ${gpus}`);
  }
  if (ids.length === 0) return [{ devices: null }];
  if (ids.length % slotSize !== 0) throw new Error(`${ids.length} GPU(s) (${ids.join(',')}) do not split into slots of ${slotSize}`);
  const slots: Slot[] = [];
  for (let i = 0; i < ids.length; i += slotSize) slots.push({ devices: ids.slice(i, i + slotSize).join(',') });
  return slots;
}

export interface HostWorkersOptions {
  connection: NativeConnection;
  /**
   * A connection for each model slot after the first. The SDK refuses two workers on one task queue over one
   * connection, and each slot is a worker on isheep-gpu. Required when there are two or more slots.
   */
  connectSlot?: () => Promise<NativeConnection>;
  namespace: string;
  store: Store;
  engine: Engine;
  slots: Slot[];
  /** Prebuilt workflow bundle (tests build it once); otherwise bundled from WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** A client of the same namespace, for what activities ask the cluster (search attributes); none: they answer no. */
  client?: Client;
  /** Which roles to run on this host. */
  roles?: { workflows?: boolean; data?: boolean; models?: boolean };
  /** Variables and hosts an external endpoint may use (default: ISHEEP_ENDPOINT_KEYS / ISHEEP_ENDPOINT_HOSTS). */
  endpoints?: EndpointPolicy;
}

export async function createHostWorkers(opts: HostWorkersOptions): Promise<Worker[]> {
  const roles = { workflows: true, data: true, models: true, ...opts.roles };
  const common = { connection: opts.connection, namespace: opts.namespace };
  const workers: Worker[] = [];
  if (roles.workflows) {
    const plugin = isheepWorkflows(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : {});
    workers.push(await Worker.create({ ...common, taskQueue: WORKFLOW_QUEUE, plugins: [plugin] }));
  }
  if (roles.data) {
    const plugin = isheepDataActivities({ store: opts.store, engine: opts.engine, namespace: opts.namespace, ...(opts.client ? { client: opts.client } : {}) });
    // The evaluation judges' unparsable judgments are read off the scoring activities' results (metrics).
    workers.push(await Worker.create({ ...common, taskQueue: CPU_QUEUE, plugins: [plugin], interceptors: { activity: [judgmentMetrics] } }));
  }
  if (roles.models) {
    if (opts.slots.length > 1 && !opts.connectSlot) throw new Error('createHostWorkers: connectSlot is required for two or more model slots');
    for (const [i, slot] of opts.slots.entries()) {
      const connection = i === 0 ? opts.connection : await opts.connectSlot!();
      const plugin = isheepModelSlot({ store: opts.store, engine: opts.engine, devices: slot.devices, ...(opts.endpoints ? { endpoints: opts.endpoints } : {}) });
      workers.push(
        await Worker.create({
          connection,
          namespace: opts.namespace,
          taskQueue: GPU_QUEUE,
          identity: `${hostname()}/slot-${i}${slot.devices === null ? '-cpu' : `-gpu${slot.devices}`}`,
          plugins: [plugin],
          // Metrics of this slot's jobs (throughput, loss) carry its index and devices.
          interceptors: { activity: [slotMetricTags(i, slot.devices)] },
        }),
      );
    }
  }
  return workers;
}

/** Runs workers until `signal` aborts, then shuts them down gracefully and closes their connections. */
export async function runWorkers(workers: Worker[], signal?: AbortSignal): Promise<void> {
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal?.addEventListener('abort', stop, { once: true });
  await Promise.all(workers.map((w) => w.run()));
  const connections = new Set(workers.map((w) => w.connection));
  await Promise.all([...connections].map((c) => c?.close().catch(() => {})));
}
