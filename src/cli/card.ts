/** A data card as a few terminal lines: counts in and out of each stage, and why things were dropped. */
import { formatEstimate } from '../stages/stats.js';
import type { IterationCard } from '../workflows/types.js';

const reasons = (dropped: Record<string, number>) =>
  Object.entries(dropped)
    .filter(([, n]) => n > 0)
    .map(([why, n]) => `${why} ${n}`)
    .join(', ') || 'none';

const histogram = (counts: number[]) => counts.map((n, i) => `${i + 1}:${n}`).filter((s) => !s.endsWith(':0')).join(' ') || '–';

export function renderCard(card: IterationCard): string {
  const s = card.synthesis;
  const lines = [
    `iteration ${card.iteration} (model ${card.model})`,
    `  synthesis   ${s.calls} meta-prompts in ${s.rounds} round(s) → ${s.parsed} parsed (last item dropped in ${s.droppedLast}, ${s.unparsedLines} stray lines) → ${s.accepted} accepted; dropped: ${reasons(s.dropped)}`,
  ];
  if (card.responses) lines.push(`  rule filter ${card.responses.in} → ${card.responses.kept}; dropped: ${reasons(card.responses.dropped)}`);
  if (card.assessment) {
    const a = card.assessment;
    lines.push(`  assessment  ${a.in} → ${a.kept}; dropped: ${reasons(a.dropped)}`);
    lines.push(`              scores quality ${histogram(a.histograms.quality)} · following ${histogram(a.histograms.following)}`);
  }
  if (card.training) {
    const t = card.training;
    lines.push(
      t.skipped
        ? `  training    skipped: ${t.reason}`
        : `  training    ${t.trainSamples} train / ${t.valSamples} val samples, ${t.steps} steps, loss ${t.trainLoss.toFixed(3)}${t.evalLoss === null ? '' : ` (val ${t.evalLoss.toFixed(3)})`}, ${t.seconds.toFixed(0)} s`,
    );
  }
  const ifeval = card.suites?.ifeval;
  if (ifeval) {
    lines.push(
      `  IFEval      prompt-strict ${formatEstimate(ifeval.promptStrict)}, prompt-loose ${formatEstimate(ifeval.promptLoose)}; instruction-strict ${formatEstimate(ifeval.instructionStrict)}, instruction-loose ${formatEstimate(ifeval.instructionLoose)}`,
    );
  }
  const mt = card.suites?.mtBench;
  if (mt) {
    const f = (e: typeof mt.turn1Score) => formatEstimate(e, { percent: false, digits: 2 });
    lines.push(`  MT-Bench    turn 1 ${f(mt.turn1Score)}, turn 2 ${f(mt.turn2Score)}; ${mt.unparsable} of ${mt.total} judgments unparsable`);
  }
  const alpaca = card.suites?.alpacaEval;
  if (alpaca) {
    const vs = alpaca.comparisons.map((c) => `vs ${c.baseline} ${formatEstimate(c.winRate)}${c.lcWinRate === null ? '' : ` (LC ${(100 * c.lcWinRate).toFixed(1)}%)`}`);
    const unparsable = alpaca.comparisons.reduce((n, c) => n + c.unparsable, 0);
    lines.push(`  AlpacaEval  win rate ${vs.join(', ') || '–'}; answers ${alpaca.avgLength} characters on average; ${unparsable} verdicts unparsable`);
  }
  const he = card.suites?.humanEval;
  if (he) {
    const f = he.failures;
    lines.push(`  HumanEval   pass@1 ${formatEstimate(he.passAt1)}; failed ${f.failed}, timed out ${f.timedOut}, out of memory ${f.outOfMemory} (network: ${he.network})`);
  }
  const lm = card.suites?.lmEval;
  if (lm) {
    const figures = lm.tasks.flatMap((t) => t.metrics.map((m) => `${t.task} ${m.metric.replace(/,none$/, '')} ${m.value.toFixed(4)}${m.stderr === null ? '' : ` ± ${m.stderr.toFixed(4)}`}`));
    lines.push(`  lm-eval     ${figures.join(', ') || '–'} (lm-eval ${lm.lmEvalVersion})`);
  }
  if (card.evaluation) {
    const e = card.evaluation;
    lines.push(`  evaluation  prompt-strict ${(100 * e.promptStrict).toFixed(1)}%, instruction-strict ${(100 * e.instructionStrict).toFixed(1)}% on ${e.items} prompts`);
  }
  const gen = card.generation.map((g) => `${g.stage} ${g.tokensPerSecond.toFixed(0)}`).join(', ');
  if (gen) lines.push(`  tokens/s    ${gen}`);
  return lines.join('\n');
}
