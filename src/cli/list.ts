/**
 * `isheep list`: the runs on the server, newest first, with where each is (stage, iteration) and its best score. A
 * running run answers its progress query; a closed one is read from its search attributes and, where this host sees
 * the store, its report.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Store } from '../artifacts/store.js';
import { formatMetric } from '../workflows/report.js';
import { ITERATION_ATTRIBUTE, STAGE_ATTRIBUTE } from '../workflows/search-attributes.js';
import { runProgressQuery } from '../workflows/messages.js';
import type { BestIteration } from '../workflows/types.js';

export interface RunRow {
  name: string;
  status: string;
  started: Date;
  stage: string;
  iteration: string;
  best: string;
}

function bestText(best: BestIteration | null | undefined): string {
  if (!best) return '–';
  return `${formatMetric(best.metric, best.value)} ${best.metric} (${best.iteration === 0 ? 'base' : `iteration ${best.iteration}`})`;
}

export async function listRuns(client: Client, store: Store | null, limit = 50): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = 'iSheepRun'` })) {
    if (rows.length >= limit) break;
    const status = w.status.name;
    let stage = w.typedSearchAttributes.get(STAGE_ATTRIBUTE) ?? '–';
    let iteration = w.typedSearchAttributes.get(ITERATION_ATTRIBUTE);
    let iterations: number | null = null;
    let best: BestIteration | null | undefined;
    if (status === 'RUNNING') {
      try {
        const p = await client.workflow.getHandle(w.workflowId, w.runId).query(runProgressQuery);
        stage = `${p.stage}${p.paused ? ' (paused)' : ''}`;
        iteration = p.iteration;
        iterations = p.iterations;
        best = p.best;
      } catch {
        stage = `${stage} (no answer: no workflow worker?)`;
      }
    } else if (store) {
      const report = store.path(`runs/${w.workflowId}/report.json`);
      if (existsSync(report)) {
        try {
          const doc = JSON.parse(readFileSync(report, 'utf8')) as { best?: BestIteration | null; summaries?: unknown[] };
          best = doc.best;
          iteration ??= doc.summaries?.length;
        } catch {
          // a report being rewritten: the row goes without its score
        }
      }
    }
    rows.push({
      name: w.workflowId,
      status: status.toLowerCase(),
      started: w.startTime,
      stage,
      iteration: iteration === undefined ? '–' : iterations ? `${iteration}/${iterations}` : String(iteration),
      best: bestText(best),
    });
  }
  return rows;
}

export function renderRunList(rows: RunRow[]): string {
  if (rows.length === 0) return 'no runs';
  const table = [['run', 'status', 'started', 'stage', 'iteration', 'best'], ...rows.map((r) => [r.name, r.status, r.started.toISOString().slice(0, 16).replace('T', ' '), r.stage, r.iteration, r.best])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  return table.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}
