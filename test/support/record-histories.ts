/**
 * Records the histories of a small finished run (parent and children) as replay fixtures:
 *   npx tsx test/support/record-histories.ts <label>
 * The replay test replays every fixture against the current workflow code, so a change that would break a
 * running run (one started by the previous deploy) fails CI unless it is guarded with patched().
 */
import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { withPreset } from '../../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../../src/queues.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './env.js';

const label = process.argv[2] ?? 'v1';
const env = await startTemporal();
try {
  const workers = await hostWorkers(env, tempStore(), fakeEngine());
  const name = `replay-${label}`;
  const config = withPreset('demo', {
    name,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 12, promptsPerRound: 2, maxRounds: 5 },
    engine: { shardSize: 5 },
    // Every suite, at a few items each, so that their workflow code is in the fixtures (from v5 on).
    evaluation: {
      suites: { ifeval: { limit: 8 }, mtBench: { limit: 2 }, alpacaEval: { enabled: true, limit: 3 }, humanEval: { enabled: true, limit: 3 } },
    },
  });
  await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: name, args: [config] }));
  for (const id of [name, `${name}.iter-1`, `${name}.iter-2`]) {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    const file = new URL(`../fixtures/histories/${id}.json`, import.meta.url);
    writeFileSync(file, historyToJSON(history));
    console.log(`wrote ${file.pathname} (${history.events?.length} events)`);
  }
} finally {
  await env.teardown();
}
