/**
 * isheep as a library: the I-SHEEP self-alignment loop as Temporal plugins that a team adds to its own workers,
 * and what its clients need to start and steer runs.
 *
 * Workers — one plugin per role, each on a Worker of the role's task queue:
 *
 *   Worker.create({ connection, taskQueue: WORKFLOW_QUEUE, plugins: [isheepWorkflows()] });
 *   Worker.create({ connection, taskQueue: CPU_QUEUE, plugins: [isheepDataActivities({ store, engine })] });
 *   Worker.create({ connection, taskQueue: GPU_QUEUE, plugins: [isheepModelSlot({ store, engine, devices: '0' })] });
 *
 * with `store = new Store('/shared/isheep')` (the same folder on every host) and
 * `engine = new SubprocessEngine(engineCommand({ python: '/venv/bin/python' }))` (a Python with
 * engine/requirements.lock installed; the engine's code ships in this package). Clients: a run is the workflow
 * `iSheepRun` on WORKFLOW_QUEUE with the run's name as workflow id and one config argument (see parseRunInput,
 * presets, and the README's configuration); its signals, update and queries are below.
 * `isheep/workflows` exports the workflow functions themselves, for a workflows file that re-exports them.
 */
export {
  isheepWorkflows,
  isheepDataActivities,
  isheepModelSlot,
  WORKFLOWS_PATH,
  type DataActivitiesOptions,
  type ModelSlotOptions,
} from './worker/plugins.js';
export { planSlots, visibleGpus, type Slot } from './worker/workers.js';
export { WORKFLOW_QUEUE, CPU_QUEUE, GPU_QUEUE } from './queues.js';

export { configSchema, parseConfig, ConfigError, type RunConfig, type RunConfigInput } from './config/schema.js';
export { parseRunInput, resolvePreset, PRESET_NAMES } from './config/input.js';
export { presets, withPreset, DEMO_MODEL, demoPreset, paperPreset, singleGpu7bPreset, type PresetName } from './config/presets.js';

export {
  runProgressQuery,
  iterationProgressQuery,
  pauseSignal,
  resumeSignal,
  stopAfterIterationSignal,
  setIterationsUpdate,
} from './workflows/messages.js';
export type { RunProgress, RunResult, IterationProgress, IterationSummary, IterationCard, IterationStage, BestIteration } from './workflows/types.js';
export { startRun, RunExistsError } from './temporal/start-run.js';

export { Store, ArtifactError, type ArtifactRef, type ModelRef } from './artifacts/store.js';
export { SubprocessEngine, EngineError, type Engine, type EngineEvent, type EngineJob, type SubprocessEngineOptions } from './engine/runner.js';
export { engineCommand, ENGINE_PATH } from './setup/tools.js';
export { endpointPolicyFromEnv, type EndpointPolicy } from './activities/endpoint-policy.js';
