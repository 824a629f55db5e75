/**
 * Recorded histories of earlier versions replay against the current workflow code. A change that would
 * break a run started before a deploy (a new activity in the middle, a reordered step) fails here unless it
 * is guarded with patched(). Record a new fixture after each such change: test/support/record-histories.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { quietRuntime, workflowBundle } from './support/env.js';

const dir = new URL('./fixtures/histories/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded histories replay on the current workflow code', () => {
  it('has fixtures for the run and its iterations', () => {
    expect(fixtures.some((f) => !f.includes('.iter-'))).toBe(true);
    expect(fixtures.some((f) => f.includes('.iter-'))).toBe(true);
  });

  for (const file of fixtures) {
    it(`replays ${file} without nondeterminism`, async () => {
      quietRuntime();
      const history = historyFromJSON(JSON.parse(readFileSync(new URL(file, dir), 'utf8')));
      // Fixtures are named by workflow id: child ids are derived from it.
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file.replace(/\.json$/, ''));
    });
  }
});
