/** The per-iteration table, as Markdown (pure: used by the workflow and the CLI). */
import type { EvalScore } from '../activities/data.js';
import type { IterationSummary } from './types.js';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : x.toFixed(digits));

export function reportRows(baseline: EvalScore | null, summaries: IterationSummary[]): string[][] {
  const rows = [['iteration', 'instructions', 'pairs (rule filter)', 'kept (scores > C)', 'keep rate', 'train loss', 'eval (prompt-strict)', 'note']];
  if (baseline) rows.push(['0 (base)', '–', '–', '–', '–', '–', pct(baseline.promptStrict), '']);
  for (const s of summaries) {
    rows.push([
      String(s.iteration),
      String(s.instructions),
      String(s.pairs),
      String(s.kept),
      s.pairs > 0 ? pct(s.kept / s.pairs) : '–',
      num(s.trainLoss),
      pct(s.evalScore),
      s.note ?? '',
    ]);
  }
  return rows;
}

export function renderReport(name: string, baseline: EvalScore | null, summaries: IterationSummary[]): string {
  const rows = reportRows(baseline, summaries);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const [head, ...body] = rows;
  return [`# I-SHEEP run ${name}`, '', line(head!), line(head!.map(() => '---')), ...body.map(line), ''].join('\n');
}

/** The same table aligned for a terminal. */
export function renderTable(baseline: EvalScore | null, summaries: IterationSummary[]): string {
  const rows = reportRows(baseline, summaries);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}
