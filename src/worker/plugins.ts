/**
 * isheep's roles as Temporal Worker plugins, for a team's own worker processes (and for `isheep worker`, which
 * builds its workers from them):
 *
 *   isheepWorkflows()                               iSheepRun and iSheepIteration (queue: the one runs start on, `isheep`)
 *   isheepDataActivities({ store, engine })         the data, evaluation and namespace activities (queue `isheep-cpu`)
 *   isheepModelSlot({ store, engine, devices })     one model slot's activities, one job at a time (queue `isheep-gpu`)
 *
 * The workflows schedule their activities on `isheep-cpu` and `isheep-gpu`, so each plugin goes on a Worker of its
 * own whose taskQueue is the role's queue (a wrong one is refused, not left polling a queue nothing is sent to).
 * Whatever else the Worker is given (connection, namespace, identity, interceptors, activities of its own) stays.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { SimplePlugin, type SimplePluginOptions } from '@temporalio/plugin';
import type { WorkerOptions, WorkerPlugin, WorkflowBundleOption } from '@temporalio/worker';
import { createDataActivities } from '../activities/data.js';
import { endpointPolicyFromEnv, type EndpointPolicy } from '../activities/endpoint-policy.js';
import { createEvaluationActivities } from '../activities/evaluation.js';
import { createModelActivities } from '../activities/model.js';
import { createNamespaceActivities } from '../activities/namespace.js';
import type { Store } from '../artifacts/store.js';
import { slotEngine } from '../engine/resident.js';
import type { Engine } from '../engine/runner.js';
import { CPU_QUEUE, GPU_QUEUE } from '../queues.js';

/** isheep's workflow module: src/workflows/index.ts when run from source, dist/workflows/index.js when installed. */
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

function requireQueue(plugin: string, options: WorkerOptions, queue: string): void {
  if (options.taskQueue !== queue) {
    throw new TypeError(`${plugin}: isheep's workflows send these activities to task queue '${queue}'; this Worker polls '${options.taskQueue}'. Give the plugin a Worker with taskQueue '${queue}'.`);
  }
}

class WorkflowsPlugin extends SimplePlugin {
  override configureWorker(options: WorkerOptions): WorkerOptions {
    // A Worker runs one workflow bundle: isheep's would replace (or be ignored beside) the Worker's own workflows.
    const own = options.workflowBundle ? 'a workflowBundle' : options.workflowsPath && options.workflowsPath !== WORKFLOWS_PATH ? `workflowsPath ${options.workflowsPath}` : null;
    if (own) {
      throw new TypeError(`${this.name}: this Worker already has workflows (${own}); a Worker registers one workflow bundle. Give isheep's workflows a Worker of their own (taskQueue 'isheep'), or re-export iSheepRun and iSheepIteration from 'isheep/workflows' in your workflows file.`);
    }
    return super.configureWorker(options);
  }
}

/**
 * isheep's workflows, iSheepRun and its child iSheepIteration, bundled from WORKFLOWS_PATH (or a prebuilt bundle
 * of it). Runs start on the Worker's taskQueue; the CLI and the README's Web UI instructions use WORKFLOW_QUEUE
 * (`isheep`). Also a bundler plugin: bundleWorkflowCode({ plugins: [isheepWorkflows()] }) bundles them.
 */
export function isheepWorkflows(opts: { workflowBundle?: WorkflowBundleOption } = {}): SimplePlugin {
  const options: SimplePluginOptions = opts.workflowBundle ? { name: 'isheep.workflows', workflowBundle: opts.workflowBundle } : { name: 'isheep.workflows', workflowsPath: WORKFLOWS_PATH };
  return new WorkflowsPlugin(options);
}

export interface DataActivitiesOptions {
  /** The artifact store, the same folder as the model slots' (a shared mount across hosts). */
  store: Store;
  /** Runs the CPU engine jobs (IFEval's reference checker, HumanEval's sandbox). */
  engine: Engine;
  /** A client of the Worker's namespace: lets a run started without search attributes set them where registered. */
  client?: Client;
  /** The namespace the client asks about (default: the client's). */
  namespace?: string;
}

class QueuePlugin extends SimplePlugin {
  constructor(
    options: SimplePluginOptions,
    private readonly queue: string,
  ) {
    super(options);
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    requireQueue(this.name, options, this.queue);
    return super.configureWorker(options);
  }
}

/** The CPU queue's activities (`isheep-cpu`): reading, filtering, deduplicating and selecting data, scoring, reports. */
export function isheepDataActivities(opts: DataActivitiesOptions): SimplePlugin {
  const namespace = opts.namespace ?? opts.client?.options.namespace ?? 'default';
  // Scoring that has a Python reference implementation (IFEval) runs as an engine job here, on the CPU.
  const activities = {
    ...createDataActivities(opts.store),
    ...createEvaluationActivities(opts.store, opts.engine),
    ...createNamespaceActivities(opts.client ?? null, namespace),
  };
  return new QueuePlugin({ name: 'isheep.data', activities }, CPU_QUEUE);
}

export interface ModelSlotOptions {
  store: Store;
  /**
   * Runs the slot's jobs. A SubprocessEngine becomes a resident engine of this slot's own (src/engine/resident.ts:
   * generate jobs in one process that keeps its models loaded, stopped with the Worker); `resident: false` in its
   * options runs every job as a process of its own.
   */
  engine: Engine;
  /** This slot's GPUs as CUDA_VISIBLE_DEVICES, e.g. '0' or '0,1' (tensor parallel, torchrun); null: a CPU slot. */
  devices: string | null;
  /** Variables and hosts an external endpoint may use (default: ISHEEP_ENDPOINT_KEYS / ISHEEP_ENDPOINT_HOSTS). */
  endpoints?: EndpointPolicy;
}

/**
 * One model slot (`isheep-gpu`): the model activities with the slot's devices pinned, running one job at a time
 * (two would fight over the same GPU memory). A Worker plugin of its own rather than a SimplePlugin, which can add
 * activities but not set the Worker's concurrency: this one sets maxConcurrentActivityTaskExecutions to 1 and
 * refuses a Worker with another limit or a tuner, so it wants a Worker of its own, one per slot. The SDK refuses
 * two Workers on one task queue over one connection: give each slot after the first its own NativeConnection.
 */
export function isheepModelSlot(opts: ModelSlotOptions): WorkerPlugin {
  const name = 'isheep.model-slot';
  const env: Record<string, string> = { CUDA_VISIBLE_DEVICES: opts.devices ?? '' };
  // A resident engine of the slot's own: its generate jobs keep their models loaded between jobs.
  const engine = slotEngine(opts.engine);
  const activities = createModelActivities(opts.store, engine, { env }, opts.endpoints ?? endpointPolicyFromEnv());
  return {
    name,
    configureWorker(options: WorkerOptions): WorkerOptions {
      requireQueue(name, options, GPU_QUEUE);
      if (options.tuner !== undefined || (options.maxConcurrentActivityTaskExecutions ?? 1) !== 1) {
        throw new TypeError(`${name}: a model slot runs one job at a time; this Worker sets ${options.tuner !== undefined ? 'a tuner' : `maxConcurrentActivityTaskExecutions ${options.maxConcurrentActivityTaskExecutions}`}`);
      }
      const present = Object.keys(activities).filter((a) => a in ((options.activities as object | undefined) ?? {}));
      if (present.length > 0) throw new TypeError(`${name}: this Worker already has model activities (${present[0]}, …): one slot per Worker`);
      return {
        ...options,
        activities: { ...options.activities, ...activities },
        maxConcurrentActivityTaskExecutions: 1,
        // On shutdown a running job gets this long, then is cancelled (its process group killed) and retried
        // elsewhere, resuming from its partial output or last checkpoint.
        shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
        // Progress reaches the server (and the Web UI, and `isheep status`) within seconds, not a minute.
        defaultHeartbeatThrottleInterval: options.defaultHeartbeatThrottleInterval ?? '2 seconds',
        maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleInterval ?? '5 seconds',
      };
    },
    async runWorker(worker, next) {
      try {
        await next(worker);
      } finally {
        if (engine !== opts.engine) await engine.close?.(); // the slot's resident engine ends with its Worker
      }
    },
  };
}
