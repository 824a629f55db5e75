/** The per-iteration table, as Markdown (pure: used by the workflow and the CLI). */
import type { AlpacaEvalSummary } from '../activities/alpaca-eval.js';
import type { EvalScore } from '../activities/data.js';
import type { LmEvalSummary } from '../activities/lm-eval.js';
import { formatEstimate, type Estimate } from '../stages/stats.js';
import type { SuiteSummaries } from './evaluate.js';
import type { BestIteration, IterationSummary } from './types.js';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : x.toFixed(digits));
/** "41.2 [37.1, 45.4]": a rate in percent with its interval (n is in the header). */
const rate = (e: Estimate | undefined) => (e && e.n > 0 ? formatEstimate(e).replace(/%|\s\(n=\d+\)/g, '') : '–');
const delta = (e: Estimate | null | undefined) =>
  e && e.n > 0 ? `${e.value >= 0 ? '+' : ''}${(100 * e.value).toFixed(1)} [${(100 * e.low).toFixed(1)}, ${(100 * e.high).toFixed(1)}]` : '–';

/** "6.25 [5.50, 7.00]": an MT-Bench mean score with its interval. */
const score = (e: Estimate | undefined) => (e && e.n > 0 ? formatEstimate(e, { percent: false, digits: 2 }).replace(/\s\(n=\d+\)/, '') : '–');

/** A metric's value as people read it: rates in percent, MT-Bench on its 1-10 scale. */
export function formatMetric(metric: string, value: number): string {
  return metric.startsWith('mtBench.') ? value.toFixed(2) : pct(value);
}

export interface ReportExtras {
  baselineSuites?: SuiteSummaries | undefined;
  best?: BestIteration | null | undefined;
  stoppedEarly?: string | null | undefined;
}

export function reportRows(baseline: EvalScore | null, summaries: IterationSummary[], extras: ReportExtras = {}): string[][] {
  const ifeval = extras.baselineSuites?.ifeval ?? summaries.find((s) => s.suites?.ifeval)?.suites?.ifeval;
  const mtBench = extras.baselineSuites?.mtBench ?? summaries.find((s) => s.suites?.mtBench)?.suites?.mtBench;
  const head = ['iteration', 'instructions', 'pairs (rule filter)', 'kept (scores > C)', 'keep rate', 'train loss'];
  const suiteHead = ifeval
    ? [
        `IFEval prompt-strict % (n=${ifeval.items})`,
        'prompt-loose',
        `instruction-strict (n=${ifeval.instructions})`,
        'instruction-loose',
        'Δ vs base (pts)',
        'Δ vs iter 1',
      ]
    : mtBench
      ? []
      : ['eval (prompt-strict)'];
  if (mtBench) suiteHead.push(`MT-Bench turn 1 (n=${mtBench.questions})`, 'turn 2', `unparsable (of ${mtBench.total})`);
  const alpaca = extras.baselineSuites?.alpacaEval ?? summaries.find((s) => s.suites?.alpacaEval)?.suites?.alpacaEval;
  const reference = alpaca?.comparisons[0]?.baseline;
  if (alpaca) suiteHead.push(`AlpacaEval win % vs ${reference ?? '–'} (n=${alpaca.items})`, 'LC win %', 'win % vs previous', 'avg length');
  const humanEval = extras.baselineSuites?.humanEval ?? summaries.find((s) => s.suites?.humanEval)?.suites?.humanEval;
  if (humanEval) suiteHead.push(`HumanEval pass@1 % (n=${humanEval.problems})`);
  // lm-eval: each task's first metric (lm-eval's order: acc before acc_norm), as lm-eval reports it.
  const lmEval = extras.baselineSuites?.lmEval ?? summaries.find((s) => s.suites?.lmEval)?.suites?.lmEval;
  const lmEvalColumns = (lmEval?.tasks ?? []).filter((t) => t.metrics.length > 0).map((t) => ({ task: t.task, metric: t.metrics[0]!.metric }));
  for (const c of lmEvalColumns) suiteHead.push(`lm-eval ${c.task} ${c.metric.replace(/,none$/, '')}`);
  const rows = [[...head, ...suiteHead, 'note']];
  const suiteCells = (s: SuiteSummaries | undefined, evalScore: number | null, deltas?: IterationSummary['deltas']) => [
    ...(ifeval
      ? [rate(s?.ifeval?.promptStrict), rate(s?.ifeval?.promptLoose), rate(s?.ifeval?.instructionStrict), rate(s?.ifeval?.instructionLoose), delta(deltas?.vsBase), delta(deltas?.vsFirst)]
      : mtBench
        ? []
        : [pct(evalScore)]),
    ...(mtBench ? [score(s?.mtBench?.turn1Score), score(s?.mtBench?.turn2Score), s?.mtBench ? String(s.mtBench.unparsable) : '–'] : []),
    ...(alpaca ? alpacaCells(s?.alpacaEval, reference) : []),
    ...(humanEval ? [rate(s?.humanEval?.passAt1)] : []),
    ...lmEvalColumns.map((c) => lmEvalCell(s?.lmEval, c.task, c.metric)),
  ];
  if (baseline || extras.baselineSuites) {
    rows.push(['0 (base)', '–', '–', '–', '–', '–', ...suiteCells(extras.baselineSuites, baseline?.promptStrict ?? null), bestMark(extras.best, 0)]);
  }
  for (const s of summaries) {
    rows.push([
      String(s.iteration),
      String(s.instructions),
      String(s.pairs),
      String(s.kept),
      s.pairs > 0 ? pct(s.kept / s.pairs) : '–',
      num(s.trainLoss),
      ...suiteCells(s.suites, s.evalScore, s.deltas),
      [bestMark(extras.best, s.iteration), s.note ?? ''].filter(Boolean).join('; '),
    ]);
  }
  return rows;
}

/** Win rate against the headline reference, its LC win rate, against the previous evaluated model, the answers' length. */
function alpacaCells(a: AlpacaEvalSummary | undefined, reference: string | undefined): string[] {
  if (!a) return ['–', '–', '–', '–'];
  const vsReference = a.comparisons.find((c) => c.baseline === reference);
  const vsPrevious = a.comparisons.find((c) => c.baseline === 'base' || c.baseline.startsWith('iter-'));
  return [rate(vsReference?.winRate), pct(vsReference?.lcWinRate), vsPrevious ? `${rate(vsPrevious.winRate)} (${vsPrevious.baseline})` : '–', String(a.avgLength)];
}

/** "0.4123 ± 0.0210": an lm-eval figure with its standard error, as lm-eval prints it. */
function lmEvalCell(l: LmEvalSummary | undefined, task: string, metric: string): string {
  const m = l?.tasks.find((t) => t.task === task)?.metrics.find((x) => x.metric === metric);
  if (!m) return '–';
  return m.stderr === null ? m.value.toFixed(4) : `${m.value.toFixed(4)} ± ${m.stderr.toFixed(4)}`;
}

function bestMark(best: BestIteration | null | undefined, iteration: number): string {
  return best && best.iteration === iteration ? `best by ${best.metric}` : '';
}

/** The lines under the table: which model is the run's result, and why the run ended early. */
export function reportFooter(extras: ReportExtras): string[] {
  const lines: string[] = [];
  if (extras.best) {
    const which = extras.best.iteration === 0 ? 'the base model' : `iteration ${extras.best.iteration}`;
    lines.push(`best: ${which} by ${extras.best.metric} = ${formatMetric(extras.best.metric, extras.best.value)} (model ${extras.best.model.uri})`);
  }
  if (extras.stoppedEarly) lines.push(`stopped early: ${extras.stoppedEarly}`);
  return lines;
}

export function renderReport(name: string, baseline: EvalScore | null, summaries: IterationSummary[], extras: ReportExtras = {}): string {
  const rows = reportRows(baseline, summaries, extras);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const [head, ...body] = rows;
  const footer = reportFooter(extras);
  return [`# I-SHEEP run ${name}`, '', line(head!), line(head!.map(() => '---')), ...body.map(line), '', ...footer, ...(footer.length ? [''] : [])].join('\n');
}

/** The same table aligned for a terminal. */
export function renderTable(baseline: EvalScore | null, summaries: IterationSummary[], extras: ReportExtras = {}): string {
  const rows = reportRows(baseline, summaries, extras);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
  const footer = reportFooter(extras);
  return footer.length ? `${table}\n\n${footer.join('\n')}` : table;
}
