/**
 * Live progress of a run for a terminal: the run's and the current iteration's queries, plus the heartbeat
 * details of the running model job (done/total, training step and loss).
 */
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
// The SDK's own decoding of raw payloads (codecs in reverse, then the payload converter).
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { iterationProgressQuery, runProgressQuery } from '../workflows/messages.js';
import type { JobProgress } from '../activities/engine-job.js';

export async function describeProgress(client: Client, runId: string): Promise<string> {
  const run = client.workflow.getHandle(runId);
  const p = await run.query(runProgressQuery);
  const parts = [`${p.stage}${p.paused ? ' (paused)' : ''}`];
  let activityHandle: WorkflowHandle = run;
  if (p.stage === 'iterating' && p.iteration > 0) {
    const child = client.workflow.getHandle(`${runId}.iter-${p.iteration}`);
    try {
      const ip = await child.query(iterationProgressQuery);
      parts[0] = `iteration ${p.iteration}/${p.iterations} · ${ip.stage}${ip.paused ? ' (paused)' : ''}`;
      if (ip.stage === 'synthesizing') parts.push(`${ip.card.synthesis.accepted}/${ip.card.synthesis.target} instructions`);
      if (ip.shards.total > 1) parts.push(`shards ${ip.shards.done}/${ip.shards.total}`);
      activityHandle = child;
    } catch {
      parts[0] = `iteration ${p.iteration}/${p.iterations} · starting`;
    }
  }
  const job = await runningJob(client, activityHandle);
  if (job) parts.push(job);
  return parts.join(' · ');
}

async function runningJob(client: Client, handle: WorkflowHandle): Promise<string | null> {
  const desc = await handle.describe();
  const [activity] = desc.raw.pendingActivities ?? [];
  return activity ? describeActivity(client.options.loadedDataConverter, activity) : null;
}

type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

/**
 * One pending activity for a terminal. Its heartbeat details are raw payloads: they go through the client's
 * codecs and payload converter, as the SDK decodes everything else, so they read the same under any codec.
 */
export async function describeActivity(converter: LoadedDataConverter, activity: PendingActivity): Promise<string> {
  const name = activity.activityType?.name ?? 'activity';
  const payloads = activity.heartbeatDetails?.payloads;
  if (!payloads?.length) return name;
  let hb: JobProgress;
  try {
    hb = await decodeFromPayloadsAtIndex<JobProgress>(converter, 0, payloads);
  } catch {
    return name; // details of some other shape: the activity's name is still worth showing
  }
  if (hb?.totalSteps) return `${name} step ${hb.step ?? 0}/${hb.totalSteps}${hb.loss !== undefined ? ` loss ${hb.loss.toFixed(3)}` : ''}`;
  if (hb?.total) return `${name} ${hb.done ?? 0}/${hb.total}`;
  return `${name} (${hb?.stage ?? 'running'})`;
}
