/**
 * Queries of the run and of each iteration, typed so the CLI, the tests and the workflows share them.
 */
import { defineQuery } from '@temporalio/workflow';
import type { IterationProgress, RunProgress } from './types.js';

/** Where the run is: its stage, the iteration, and the summary of every finished iteration. */
export const runProgressQuery = defineQuery<RunProgress>('progress');
/** Where one iteration is: its stage and the counts of each finished stage. */
export const iterationProgressQuery = defineQuery<IterationProgress>('iterationProgress');
