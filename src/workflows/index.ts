/** The workflows a worker registers (workflowsPath points here). */
export { iSheepRun } from './run.js';
export { iSheepIteration } from './iteration.js';
