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

/** "45s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const seconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null =>
  t?.seconds === undefined || t.seconds === null ? null : Number(t.seconds) + (t.nanos ?? 0) / 1e9;

/**
 * One pending activity for a terminal: a job not yet picked up says it waits for a worker (a model slot busy with
 * another run's job looks like this); a running one shows what its heartbeat says (rows done, train step and loss),
 * how long it has run and, once some rows are done, when it should end. Its heartbeat details are raw payloads: they
 * go through the client's codecs and payload converter, as the SDK decodes everything else, so they read the same
 * under any codec.
 */
export async function describeActivity(converter: LoadedDataConverter, activity: PendingActivity, now: number = Date.now() / 1000): Promise<string> {
  const name = activity.activityType?.name ?? 'activity';
  const attempt = (activity.attempt ?? 1) > 1 ? `, attempt ${activity.attempt}` : '';
  if (activity.state === 1 /* PENDING_ACTIVITY_STATE_SCHEDULED */) {
    const since = seconds(activity.scheduledTime);
    return `${name} (waiting for a worker${since === null ? '' : ` ${formatDuration(now - since)}`}${attempt})`;
  }
  const started = seconds(activity.lastStartedTime);
  const elapsed = started === null ? null : now - started;
  const ran = elapsed === null ? '' : `, ${formatDuration(elapsed)}`;
  const payloads = activity.heartbeatDetails?.payloads;
  if (!payloads?.length) return elapsed === null && !attempt ? name : `${name} (${elapsed === null ? 'running' : formatDuration(elapsed)}${attempt})`;
  let hb: JobProgress;
  try {
    hb = await decodeFromPayloadsAtIndex<JobProgress>(converter, 0, payloads);
  } catch {
    return name; // details of some other shape: the activity's name is still worth showing
  }
  if (hb?.totalSteps) return `${name} step ${hb.step ?? 0}/${hb.totalSteps}${hb.loss !== undefined ? ` loss ${hb.loss.toFixed(3)}` : ''}${ran}${attempt}`;
  if (hb?.total) {
    const done = hb.done ?? 0;
    const eta = elapsed !== null && done > 0 && done < hb.total ? `, ~${formatDuration((elapsed / done) * (hb.total - done))} left` : '';
    return `${name} ${done}/${hb.total}${ran}${eta}${attempt}`;
  }
  return `${name} (${hb?.stage ?? 'running'}${ran}${attempt})`;
}

/** A bar of `width` cells, filled by done/total. */
export function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * The progress line as a block for a terminal: one line per part (" · " separated), each count "a/b" (the
 * iteration, instructions, shards, rows or train steps) drawn as a bar.
 */
export function renderBars(line: string, width = 24): string[] {
  const parts = line.split(' · ');
  const labelWidth = Math.max(...parts.map((p) => (/^(.*?)\s*\d+\/\d+/.exec(p)?.[1] ?? '').length));
  return parts.map((part, i) => {
    const m = /^(.*?)\s*(\d+)\/(\d+)(.*)$/.exec(part);
    const indent = i === 0 ? '' : '  ';
    if (!m) return `${indent}${part}`;
    const [, label, done, total, rest] = m as unknown as [string, string, string, string, string];
    return `${indent}${label.padEnd(labelWidth)} ${bar(Number(done), Number(total), width)} ${done}/${total}${rest}`;
  });
}
