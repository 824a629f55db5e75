/** Runs on the same server as a new demo. */
import type { Client } from '@temporalio/client';
import { pauseSignal } from '../workflows/messages.js';

/**
 * Runs an earlier demo left going (Ctrl-C keeps them) would take this demo's model slot turn about: they are paused
 * (their job in flight finishes; nothing is lost), and `isheep resume NAME` continues them.
 */
export async function pauseOtherRuns(client: Client, name: string, log: (line: string) => void = console.log): Promise<string[]> {
  const paused: string[] = [];
  try {
    for await (const run of client.workflow.list({ query: `WorkflowType = 'iSheepRun' AND ExecutionStatus = 'Running'` })) {
      if (run.workflowId === name) continue;
      await client.workflow.getHandle(run.workflowId).signal(pauseSignal);
      paused.push(run.workflowId);
      log(`paused ${run.workflowId}, an earlier run on these workers, so that this demo has the model slot to itself; \`isheep resume ${run.workflowId}\` continues it`);
    }
  } catch (err) {
    log(`isheep: could not list earlier runs (${(err as Error).message}); an earlier one may share the model slot`);
  }
  return paused;
}
