/**
 * Live progress of a run for a terminal: the run's and the current iteration's queries, plus the heartbeat
 * details of the running model job (done/total, training step and loss).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { iterationProgressQuery, runProgressQuery } from '../workflows/messages.js';
import type { JobProgress } from '../activities/engine-job.js';

export async function describeProgress(client: Client, runId: string): Promise<string> {
  const run = client.workflow.getHandle(runId);
  const p = await run.query(runProgressQuery);
  const parts = [`${p.stage}`];
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
  const job = await runningJob(activityHandle);
  if (job) parts.push(job);
  return parts.join(' · ');
}

async function runningJob(handle: WorkflowHandle): Promise<string | null> {
  const desc = await handle.describe();
  const pending = desc.raw.pendingActivities ?? [];
  for (const a of pending) {
    const name = a.activityType?.name ?? 'activity';
    const payload = a.heartbeatDetails?.payloads?.[0]?.data;
    if (!payload) return `${name}`;
    try {
      const hb = JSON.parse(Buffer.from(payload).toString('utf8')) as JobProgress;
      if (hb.totalSteps) return `${name} step ${hb.step ?? 0}/${hb.totalSteps}${hb.loss !== undefined ? ` loss ${hb.loss.toFixed(3)}` : ''}`;
      if (hb.total) return `${name} ${hb.done ?? 0}/${hb.total}`;
      return `${name} (${hb.stage ?? 'running'})`;
    } catch {
      return name;
    }
  }
  return null;
}
