/**
 * Signals, updates and queries of a run, typed so the CLI, the tests and the workflows share them.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { IterationProgress, RunProgress } from './types.js';

/** Where the run is: its stage, the iteration, and the summary of every finished iteration. */
export const runProgressQuery = defineQuery<RunProgress>('progress');
/** Where one iteration is: its stage, the shards of the running stage and the data card so far. */
export const iterationProgressQuery = defineQuery<IterationProgress>('iterationProgress');

/** Finish the model jobs in flight, start no new one until resumed. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Finish the current iteration, then report and end the run. */
export const stopAfterIterationSignal = defineSignal('stopAfterIteration');
/** Change the total number of iterations; returns the new total. Refused below the running iteration. */
export const setIterationsUpdate = defineUpdate<number, [number]>('setIterations');
