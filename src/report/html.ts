/**
 * The run's report as one self-contained HTML file (runs/<name>/report.html): a pure function of the report
 * document and a few sample pairs. Charts are inline SVG made here, styles are inline, and the page has no
 * script at all; a Content-Security-Policy forbids scripts and every fetch besides, so nothing a model wrote can
 * run or call out when the file is opened. Every text is escaped.
 */
import type { Estimate } from '../stages/stats.js';
import type { SuiteSummaries } from '../workflows/evaluate.js';
import { formatMetric, reportRows } from '../workflows/report.js';
import type { IterationCard } from '../workflows/types.js';
import type { IterationSamples, RunReportDocument, SamplePair } from './document.js';
import { barChart, esc, hBarChart, niceMax, pointChart, type ChartPoint } from './svg.js';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const iterLabel = (x: number) => (x === 0 ? 'base' : `${x}`);
/** Sample texts are cut to this many characters. */
const MAX_TEXT = 800;

/** One figure of a suite, as a chart: its id is the metric name evaluation.select knows, where there is one. */
interface MetricSpec {
  id: string;
  title: string;
  scale: 'rate' | 'score';
  series: { name: string; get: (s: SuiteSummaries) => Estimate | number | null | undefined }[];
  /** The metrics (evaluation.select) this chart shows, to mark the one the best iteration is chosen by. */
  selects: string[];
}

function metricSpecs(rows: SuiteSummaries[]): MetricSpec[] {
  const has = (k: keyof SuiteSummaries) => rows.some((s) => s[k] !== undefined);
  const specs: MetricSpec[] = [];
  if (has('ifeval')) {
    const figures = [
      ['promptStrict', 'prompt-level strict'],
      ['promptLoose', 'prompt-level loose'],
      ['instructionStrict', 'instruction-level strict'],
      ['instructionLoose', 'instruction-level loose'],
    ] as const;
    for (const [key, name] of figures) {
      specs.push({ id: `ifeval.${key}`, title: `IFEval ${name} accuracy`, scale: 'rate', series: [{ name, get: (s) => s.ifeval?.[key] }], selects: [`ifeval.${key}`] });
    }
  }
  if (has('mtBench')) {
    const turns = [
      ['turn1', 'turn1Score', 'turn 1'],
      ['turn2', 'turn2Score', 'turn 2'],
      ['overall', 'overallScore', 'both turns'],
    ] as const;
    for (const [key, field, name] of turns) {
      specs.push({ id: `mtBench.${key}`, title: `MT-Bench ${name} (judge rating 1–10)`, scale: 'score', series: [{ name, get: (s) => s.mtBench?.[field] }], selects: [`mtBench.${key}`] });
    }
  }
  if (has('alpacaEval')) {
    // The run's previous model is iter-(t-1) in iteration t: one series for all of them.
    const baselineOf = (b: string) => (b.startsWith('iter-') ? 'previous model' : b);
    const baselines = [...new Set(rows.flatMap((s) => s.alpacaEval?.comparisons.map((c) => baselineOf(c.baseline)) ?? []))];
    const first = rows.find((s) => s.alpacaEval)?.alpacaEval?.comparisons[0]?.baseline;
    for (const b of baselines) {
      const of = (s: SuiteSummaries) => s.alpacaEval?.comparisons.find((c) => baselineOf(c.baseline) === b);
      specs.push({
        id: `alpacaEval.winRate.${b}`,
        title: `AlpacaEval win rate vs ${b}`,
        scale: 'rate',
        series: [
          { name: 'win rate', get: (s) => of(s)?.winRate },
          { name: 'length-controlled', get: (s) => of(s)?.lcWinRate ?? null },
        ],
        selects: b === first ? ['alpacaEval.winRate', 'alpacaEval.lcWinRate'] : [],
      });
    }
  }
  if (has('humanEval')) {
    specs.push({ id: 'humanEval.passAt1', title: 'HumanEval pass@1', scale: 'rate', series: [{ name: 'pass@1', get: (s) => s.humanEval?.passAt1 }], selects: ['humanEval.passAt1'] });
  }
  if (has('smoke')) {
    specs.push({ id: 'smoke.promptStrict', title: 'Smoke set prompt-strict', scale: 'rate', series: [{ name: 'prompt-strict', get: (s) => s.smoke?.promptStrict }], selects: ['smoke.promptStrict'] });
  }
  return specs;
}

function toPoint(x: number, v: Estimate | number | null | undefined): ChartPoint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? { x, value: v } : null;
  if (v.n === 0 || !Number.isFinite(v.value)) return null;
  return { x, value: v.value, low: v.low, high: v.high, n: v.n };
}

/** The models evaluated, in order: the base model (0) and each iteration with its suites. */
function evaluatedModels(doc: RunReportDocument): { x: number; suites: SuiteSummaries }[] {
  const out: { x: number; suites: SuiteSummaries }[] = [];
  // Runs from before the suites: the smoke score, without an interval.
  const smoke = (promptStrict: number, items: number) => ({ label: '', promptStrict, instructionStrict: Number.NaN, items });
  if (doc.baselineSuites) out.push({ x: 0, suites: doc.baselineSuites });
  else if (doc.baseline) out.push({ x: 0, suites: { smoke: doc.baseline } });
  for (const s of doc.summaries) {
    if (s.suites) out.push({ x: s.iteration, suites: s.suites });
    else if (!doc.baselineSuites && s.evalScore !== null) out.push({ x: s.iteration, suites: { smoke: smoke(s.evalScore, 0) } });
  }
  return out;
}

function evaluationSection(doc: RunReportDocument): string {
  const models = evaluatedModels(doc);
  const specs = metricSpecs(models.map((m) => m.suites));
  if (specs.length === 0) return section('evaluation', 'Evaluation', '<p class="empty">No evaluation suite ran.</p>');
  const xs = [...(doc.baselineSuites || doc.baseline ? [0] : []), ...doc.summaries.map((s) => s.iteration)];
  const best = doc.best ? { x: doc.best.iteration, label: 'best' } : null;
  const charts = specs.map((spec) => {
    const selected = doc.best ? spec.selects.includes(doc.best.metric) : false;
    return pointChart({
      id: spec.id,
      title: selected ? `${spec.title} · selects the best` : spec.title,
      xs,
      xLabel: iterLabel,
      xTitle: 'iteration',
      y: spec.scale === 'rate' ? { min: 0, max: 1, format: pct } : { min: 1, max: 10, format: (v) => v.toFixed(2) },
      series: spec.series.map((s) => ({ name: s.name, points: models.map((m) => toPoint(m.x, s.get(m.suites))).filter((p): p is ChartPoint => p !== null) })),
      best,
      selected,
    });
  });
  const note =
    '<p class="caption">Each point is a model (base: M<sub>0</sub>); bars are 95% intervals (Wilson for rates, a seeded bootstrap for mean ratings), n in each point\'s tooltip. ' +
    (doc.best ? `The shaded column is the best iteration by <code>${esc(doc.best.metric)}</code>.` : '') +
    '</p>';
  return section('evaluation', 'Evaluation', `${note}<div class="charts">${charts.join('')}</div>`);
}

function headerSection(doc: RunReportDocument): string {
  const c = doc.config;
  const done = doc.summaries.length;
  const planned = doc.state?.iterations ?? c.iterations;
  const final = doc.state?.final ?? true;
  const facts: [string, string][] = [
    ['base model', c.model.base],
    ['iterations', final ? `${done} run (${planned} planned)` : `${done} of ${planned} done`],
    ['training', `${c.training.policy}, ${c.training.method}`],
    ['assessment', `${c.assessment.level}, ${c.assessment.variant}, keep scores > ${c.assessment.threshold}, grader ${c.assessment.grader}`],
    ['seed', String(c.seed)],
  ];
  const banners: string[] = [];
  if (!final) banners.push(`<p class="banner progress" id="in-progress">In progress: written after iteration ${done}; rewritten as each iteration finishes.</p>`);
  if (doc.best) {
    const which = doc.best.iteration === 0 ? 'the base model' : `iteration ${doc.best.iteration}`;
    banners.push(
      `<p class="banner best" id="best" data-best="${doc.best.iteration}">Best: ${esc(which)} by <code>${esc(doc.best.metric)}</code> = ${esc(formatMetric(doc.best.metric, doc.best.value))} (model <code>${esc(doc.best.model.uri)}</code>)</p>`,
    );
  }
  if (doc.stoppedEarly) banners.push(`<p class="banner stopped" id="stopped-early">Stopped early: ${esc(doc.stoppedEarly)}</p>`);
  return (
    `<header><h1>I-SHEEP run ${esc(c.name)}</h1><dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>${banners.join('')}</header>`
  );
}

function tableSection(doc: RunReportDocument): string {
  const suites = 'baselineSuites' in doc;
  const rows = reportRows(doc.baseline, doc.summaries, suites ? { baselineSuites: doc.baselineSuites ?? undefined, best: doc.best, stoppedEarly: doc.stoppedEarly } : {});
  const [head, ...body] = rows;
  const table =
    `<div class="scroll"><table class="summary"><thead><tr>${head!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${body.map((r) => `<tr>${r.map((cell) => `<td>${esc(cell)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
  return section('summary', 'Per iteration', `<p class="caption">Rates in percent with their 95% interval in brackets.</p>${table}`);
}

/** Keep rates and drop reasons of the three filtering stages. */
function funnelSection(cards: IterationCard[]): string {
  if (cards.length === 0) return section('funnel', 'Data per stage', '<p class="empty">No iteration has finished yet.</p>');
  const xs = cards.map((c) => c.iteration);
  const rate = (kept: number, n: number) => (n > 0 ? kept / n : Number.NaN);
  const stages: { name: string; point: (c: IterationCard) => number; dropped: (c: IterationCard) => Record<string, number> | undefined }[] = [
    { name: 'synthesis', point: (c) => rate(c.synthesis.accepted, c.synthesis.parsed), dropped: (c) => c.synthesis.dropped },
    { name: 'rule filter', point: (c) => (c.responses ? rate(c.responses.kept, c.responses.in) : Number.NaN), dropped: (c) => c.responses?.dropped },
    { name: 'self-assessment', point: (c) => (c.assessment ? rate(c.assessment.kept, c.assessment.in) : Number.NaN), dropped: (c) => c.assessment?.dropped },
  ];
  const keepChart = pointChart({
    id: 'keep-rates',
    title: 'Keep rate per stage',
    xs,
    xTitle: 'iteration',
    y: { min: 0, max: 1, format: pct },
    series: stages.map((s) => ({ name: s.name, points: cards.map((c) => ({ x: c.iteration, value: s.point(c) })) })),
  });
  const reasonsOf = (s: (typeof stages)[number]) => [...new Set(cards.flatMap((c) => Object.entries(s.dropped(c) ?? {}).filter(([, n]) => n > 0).map(([r]) => r)))];
  const none = stages.filter((s) => reasonsOf(s).length === 0).map((s) => s.name);
  const dropCharts = stages.flatMap((s) => {
    const reasons = reasonsOf(s);
    if (reasons.length === 0) return [];
    return hBarChart({
      id: `dropped.${s.name}`,
      title: `Dropped by ${s.name}, per reason`,
      categories: reasons,
      series: cards.map((c) => ({ name: `iteration ${c.iteration}`, values: reasons.map((r) => s.dropped(c)?.[r] ?? 0) })),
    });
  });
  const rows = cards.flatMap((c) => {
    const s = c.synthesis;
    const line = (stage: string, inn: number | string, kept: number | string, ratio: number, note: string) =>
      `<tr><td>${c.iteration}</td><td>${esc(stage)}</td><td>${esc(inn)}</td><td>${esc(kept)}</td><td>${Number.isFinite(ratio) ? pct(ratio) : '–'}</td><td>${esc(note)}</td></tr>`;
    const out = [line('synthesis', s.parsed, s.accepted, rate(s.accepted, s.parsed), `${s.calls} meta-prompts in ${s.rounds} round(s); last item cut in ${s.droppedLast}, ${s.unparsedLines} stray lines`)];
    if (c.responses) out.push(line('rule filter', c.responses.in, c.responses.kept, rate(c.responses.kept, c.responses.in), ''));
    if (c.assessment) out.push(line('self-assessment', c.assessment.in, c.assessment.kept, rate(c.assessment.kept, c.assessment.in), ''));
    if (c.training?.skipped) out.push(line('training', '–', '–', Number.NaN, `skipped: ${c.training.reason}`));
    return out;
  });
  const table = `<table class="funnel"><thead><tr><th>iteration</th><th>stage</th><th>in</th><th>kept</th><th>keep rate</th><th>note</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const nothing = none.length ? `<p class="caption" id="nothing-dropped">Nothing dropped by: ${none.map(esc).join(', ')}.</p>` : '';
  return section('funnel', 'Data per stage', `<div class="charts">${keepChart}${dropCharts.join('')}</div>${nothing}${table}`);
}

function histogramSection(cards: IterationCard[], threshold: number): string {
  const withScores = cards.filter((c) => c.assessment && [...c.assessment.histograms.quality, ...c.assessment.histograms.following].some((n) => n > 0));
  if (withScores.length === 0) return section('histograms', 'Self-assessment scores', '<p class="empty">No parsable self-assessment score yet (or assessment.level is none).</p>');
  const charts = withScores.map((c) => {
    const h = c.assessment!.histograms;
    const series = [
      ...(h.quality.some((n) => n > 0) ? [{ name: 'quality', values: h.quality }] : []),
      ...(h.following.some((n) => n > 0) ? [{ name: 'instruction following', values: h.following }] : []),
    ];
    return barChart({
      id: `histogram.${c.iteration}`,
      title: `Iteration ${c.iteration}: parsable scores (${c.assessment!.kept} of ${c.assessment!.in} kept)`,
      categories: Array.from({ length: 10 }, (_, i) => String(i + 1)),
      series,
      marker: { after: threshold - 1, label: `kept: > ${threshold}` },
    });
  });
  return section('histograms', 'Self-assessment scores', `<p class="caption">The grader's 1–10 scores of every pair whose judgment parsed, kept or not; unparsable ones are counted under the assessment's drop reasons.</p><div class="charts">${charts.join('')}</div>`);
}

/** tokens/s per stage (synthesis rounds pooled), one bar per iteration. */
function throughputSection(cards: IterationCard[]): string {
  const group = (stage: string) => stage.replace(/^synthesis round \d+$/, 'synthesis');
  const stages = [...new Set(cards.flatMap((c) => c.generation.map((g) => group(g.stage))))];
  if (stages.length === 0) return section('throughput', 'Generation throughput', '<p class="empty">No generation recorded.</p>');
  const rate = (c: IterationCard, stage: string) => {
    const jobs = c.generation.filter((g) => group(g.stage) === stage);
    const tokens = jobs.reduce((a, g) => a + g.newTokens, 0);
    const seconds = jobs.reduce((a, g) => a + g.seconds, 0);
    return seconds > 0 ? Math.round(tokens / seconds) : 0;
  };
  const chart = hBarChart({ id: 'throughput', title: 'New tokens per second, per stage', categories: stages, series: cards.map((c) => ({ name: `iteration ${c.iteration}`, values: stages.map((s) => rate(c, s)) })) });
  const rows = cards.flatMap((c) =>
    c.generation.map(
      (g) => `<tr><td>${c.iteration}</td><td>${esc(g.stage)}</td><td>${g.newTokens}</td><td>${g.seconds.toFixed(1)}</td><td>${g.tokensPerSecond.toFixed(1)}</td><td>${g.shards}</td></tr>`,
    ),
  );
  const table = `<details><summary>every generation job</summary><table><thead><tr><th>iteration</th><th>stage</th><th>new tokens</th><th>seconds</th><th>tokens/s</th><th>shards</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
  return section('throughput', 'Generation throughput', `<div class="charts">${chart}</div>${table}`);
}

function trainingSection(cards: IterationCard[]): string {
  const trained = cards.filter((c) => c.training && !c.training.skipped);
  const rows = cards.map((c) => {
    const t = c.training;
    if (!t) return `<tr><td>${c.iteration}</td><td colspan="6">–</td></tr>`;
    if (t.skipped) return `<tr><td>${c.iteration}</td><td colspan="6">skipped: ${esc(t.reason)}</td></tr>`;
    return `<tr><td>${c.iteration}</td><td>${t.trainLoss.toFixed(3)}</td><td>${t.evalLoss === null ? '–' : t.evalLoss.toFixed(3)}</td><td>${t.steps}</td><td>${t.trainSamples}</td><td>${t.valSamples}</td><td>${t.seconds.toFixed(0)}</td></tr>`;
  });
  const table = `<table><thead><tr><th>iteration</th><th>train loss</th><th>val loss</th><th>steps</th><th>train samples</th><th>val samples</th><th>seconds</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  if (trained.length === 0) return section('training', 'Training', `<p class="empty">No iteration was trained yet.</p>${cards.length ? table : ''}`);
  const losses = trained.flatMap((c) => (c.training && !c.training.skipped ? [c.training.trainLoss, c.training.evalLoss ?? 0] : []));
  const chart = pointChart({
    id: 'training-loss',
    title: 'Training loss at the end of each iteration',
    xs: cards.map((c) => c.iteration),
    xTitle: 'iteration',
    y: { min: 0, max: niceMax(Math.max(...losses)), format: (v) => v.toFixed(2) },
    series: [
      { name: 'train', points: trained.map((c) => ({ x: c.iteration, value: c.training && !c.training.skipped ? c.training.trainLoss : Number.NaN })) },
      { name: 'validation', points: trained.map((c) => ({ x: c.iteration, value: c.training && !c.training.skipped && c.training.evalLoss !== null ? c.training.evalLoss : Number.NaN })) },
    ],
  });
  return section('training', 'Training', `<div class="charts">${chart}</div>${table}`);
}

function text(value: string): string {
  const cut = value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}… (${value.length - MAX_TEXT} more characters)` : value;
  return `<pre>${esc(cut)}</pre>`;
}

function samplePair(p: SamplePair, kind: 'kept' | 'rule' | 'assessment'): string {
  const tags = [
    kind === 'kept' ? 'kept' : `dropped: ${p.reason ?? 'unknown'}`,
    ...(p.qualityScore != null ? [`quality ${p.qualityScore}`] : []),
    ...(p.followingScore != null ? [`following ${p.followingScore}`] : []),
  ];
  const fields: [string, string | null | undefined][] = [
    ['instruction', p.instruction],
    ['input', p.input || null],
    ['response', p.response],
    ['quality judgment', p.qualityJudgment],
    ['following judgment', p.followingJudgment],
  ];
  return (
    `<article class="sample ${kind}" data-kind="${kind}" data-id="${esc(p.id)}"><p class="tags">${tags.map((t) => `<span>${esc(t)}</span>`).join('')}<code>${esc(p.id)}</code></p>` +
    `<dl>${fields.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${text(v!)}</dd>`).join('')}</dl></article>`
  );
}

function samplesSection(samples: IterationSamples[]): string {
  if (samples.length === 0) return section('samples', 'Sample pairs', '<p class="empty">No iteration has finished yet.</p>');
  const group = (title: string, pairs: SamplePair[], kind: 'kept' | 'rule' | 'assessment') =>
    `<h4>${esc(title)}</h4>${pairs.length ? pairs.map((p) => samplePair(p, kind)).join('') : '<p class="empty">none</p>'}`;
  const blocks = samples.map(
    (s, i) =>
      `<details class="iteration-samples" data-iteration="${s.iteration}"${i === samples.length - 1 ? ' open' : ''}><summary>Iteration ${s.iteration}</summary>` +
      group('Kept (trained on)', s.kept, 'kept') +
      group('Dropped by the rule filter', s.ruleDropped, 'rule') +
      group('Dropped by the self-assessment', s.assessmentDropped, 'assessment') +
      (s.notes.length ? `<p class="note">Not shown: ${s.notes.map(esc).join('; ')}</p>` : '') +
      `</details>`,
  );
  return section('samples', 'Sample pairs', `<p class="caption">The first few of each kind, as the model wrote them (cut at ${MAX_TEXT} characters).</p>${blocks.join('')}`);
}

function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${body}</section>`;
}

const STYLE = `
:root{color-scheme:light;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;background:#fff}
body{margin:0 auto;max-width:1500px;padding:16px 24px 48px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}h4{margin:12px 0 4px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 8px}.facts dt{color:#57606a}.facts dd{margin:0}
.banner{margin:6px 0;padding:6px 10px;border-radius:4px}.best{background:#e6f4ea}.stopped{background:#fff4e5}.progress{background:#e8f0fe}
.caption,.note,.empty{color:#57606a;margin:4px 0 8px}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.chart{border:1px solid #e3e7eb;border-radius:4px;background:#fff}.chart.selected{border-color:#0a7d32;box-shadow:0 0 0 1px #0a7d32}
.chart text{font-size:11px;fill:#1b1f24}.chart .chart-title{font-size:12.5px;font-weight:600}
.chart .y-tick{text-anchor:end}.chart .x-tick{text-anchor:middle}.chart .row-label{text-anchor:end}.chart .axis-title{text-anchor:end;fill:#57606a}
.chart .grid{stroke:#eef1f4}.chart .axis{stroke:#8c959f}.chart .line{fill:none;stroke-width:1.5;opacity:.6}
.chart .ci,.chart .ci-cap{stroke-width:1.5}.chart .best-mark rect{fill:#0a7d32;opacity:.09}.chart .best-mark text{fill:#0a7d32;text-anchor:middle;font-weight:600}
.chart .best-point{fill:none;stroke:#0a7d32;stroke-width:2}.chart .marker line{stroke:#cf222e;stroke-dasharray:4 3}.chart .marker text{fill:#cf222e;text-anchor:middle}
.chart .bar-value{font-size:10px;fill:#57606a}.chart .no-data{text-anchor:middle;fill:#8c959f}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
.scroll{overflow-x:auto}table.summary td{white-space:nowrap}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.sample{border:1px solid #d8dde3;border-left:4px solid #8c959f;border-radius:4px;padding:6px 10px;margin:6px 0}
.sample.kept{border-left-color:#0a7d32}.sample.rule{border-left-color:#cf222e}.sample.assessment{border-left-color:#bf8700}
.sample .tags span{display:inline-block;background:#f6f8fa;border:1px solid #d8dde3;border-radius:10px;padding:0 8px;margin-right:6px;font-size:12px}
.sample .tags code{color:#57606a;font-size:12px}
.sample dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}.sample dt{color:#57606a}.sample dd{margin:0;min-width:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
code{font:12.5px ui-monospace,"DejaVu Sans Mono",monospace}
`;

/** The whole page. `samples` comes from the run's artifacts (samples.ts); the rest from the report document. */
export function renderHtmlReport(doc: RunReportDocument, samples: IterationSamples[]): string {
  const body = [
    headerSection(doc),
    tableSection(doc),
    evaluationSection(doc),
    funnelSection(doc.cards),
    histogramSection(doc.cards, doc.config.assessment.threshold),
    throughputSection(doc.cards),
    trainingSection(doc.cards),
    samplesSection(samples),
    section('config', 'Config', `<details><summary>the run's resolved config</summary><pre>${esc(JSON.stringify(doc.config, null, 2))}</pre></details>`),
  ];
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>I-SHEEP run ${esc(doc.config.name)}</title><style>${STYLE}</style></head>\n<body>\n${body.join('\n')}\n</body></html>\n`
  );
}
