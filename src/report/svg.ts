/**
 * Charts as inline SVG strings, for the HTML report: pure functions of their data, no script, no external
 * resource, every piece of text escaped. Each chart carries data attributes (data-chart, data-x, data-value,
 * data-best) so that a test, or anyone reading the file, can find what is plotted.
 */

/** Escapes text for HTML and SVG, in element content and in quoted attribute values alike. */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Colours of the series, in order (colour-blind safe: Okabe-Ito). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];
const colour = (i: number) => PALETTE[i % PALETTE.length]!;

/** A coordinate for an attribute: finite, two decimals. */
const n2 = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(2)) : 0);

/** About `count` round tick values from min to max. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A round upper bound at or above `max` (for axes that start at zero). */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const ticks = niceTicks(0, max * 1.05);
  const last = ticks[ticks.length - 1]!;
  return last >= max ? last : last + (ticks[1]! - ticks[0]!);
}

export interface ChartPoint {
  x: number;
  value: number;
  /** The 95% interval, where the figure has one. */
  low?: number;
  high?: number;
  n?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

export interface PointChartSpec {
  /** Identifies the chart (data-chart), e.g. the metric "ifeval.promptStrict". */
  id: string;
  title: string;
  /** The categories along the x axis, in order (iterations; 0 is the base model). */
  xs: number[];
  xLabel?: (x: number) => string;
  xTitle?: string;
  y: { min: number; max: number; format: (v: number) => string };
  series: ChartSeries[];
  /** The x to mark as the run's best iteration. */
  best?: { x: number; label: string } | null;
  /** Marks the best point itself with a ring (on the chart of the metric the best iteration is chosen by). */
  selected?: boolean;
  /** Joins each series' points with a line (false for figures that are not a trend). */
  lines?: boolean;
}

const W = 440;
const H = 270;
const M = { left: 60, right: 14, top: 30, bottom: 62 };

function frame(id: string, title: string, body: string, height = H, extraClass = ''): string {
  return (
    `<svg class="chart${extraClass}" data-chart="${esc(id)}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${esc(title)}</title>` +
    `<text class="chart-title" x="${M.left}" y="18">${esc(title)}</text>${body}</svg>`
  );
}

function legend(names: string[], y: number): string {
  let x = M.left;
  return names
    .map((name, i) => {
      const item = `<g class="legend-item"><rect x="${x}" y="${y - 9}" width="10" height="10" fill="${colour(i)}"/><text x="${x + 14}" y="${y}">${esc(name)}</text></g>`;
      x += 24 + 6.5 * name.length;
      return item;
    })
    .join('');
}

/** Points over iterations, each with its interval as an error bar; the best iteration as a shaded band. */
export function pointChart(spec: PointChartSpec): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const { min, max, format } = spec.y;
  const yOf = (v: number) => M.top + ((max - Math.min(max, Math.max(min, v))) / (max - min || 1)) * plotH;
  const slot = plotW / Math.max(1, spec.xs.length);
  const xOf = (x: number) => M.left + (spec.xs.indexOf(x) + 0.5) * slot;
  const label = spec.xLabel ?? String;
  const parts: string[] = [];

  for (const t of niceTicks(min, max)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${n2(yOf(t))}" y2="${n2(yOf(t))}"/>`);
    parts.push(`<text class="tick y-tick" x="${M.left - 6}" y="${n2(yOf(t) + 4)}">${esc(format(t))}</text>`);
  }
  if (spec.best && spec.xs.includes(spec.best.x)) {
    const bx = xOf(spec.best.x);
    parts.push(
      `<g class="best-mark" data-best="${spec.best.x}"><rect x="${n2(bx - slot / 2)}" y="${M.top}" width="${n2(slot)}" height="${plotH}"/>` +
        `<text x="${n2(bx)}" y="${M.top + plotH + 29}">${esc(spec.best.label)}</text></g>`,
    );
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  for (const x of spec.xs) parts.push(`<text class="tick x-tick" x="${n2(xOf(x))}" y="${M.top + plotH + 16}">${esc(label(x))}</text>`);
  // Left of the first category, under the y labels: the space under each category is the best mark's.
  if (spec.xTitle) parts.push(`<text class="axis-title" x="${M.left - 6}" y="${M.top + plotH + 16}">${esc(spec.xTitle)}</text>`);

  const k = spec.series.length;
  spec.series.forEach((series, s) => {
    const dx = (s - (k - 1) / 2) * Math.min(8, slot / (k + 1));
    const points = series.points.filter((p) => Number.isFinite(p.value) && spec.xs.includes(p.x));
    const c = colour(s);
    if (spec.lines !== false && points.length > 1) {
      parts.push(`<polyline class="line" stroke="${c}" points="${points.map((p) => `${n2(xOf(p.x) + dx)},${n2(yOf(p.value))}`).join(' ')}"/>`);
    }
    for (const p of points) {
      const px = n2(xOf(p.x) + dx);
      const py = n2(yOf(p.value));
      const hasCi = p.low !== undefined && p.high !== undefined && Number.isFinite(p.low) && Number.isFinite(p.high);
      const tip = `${series.name}, ${label(p.x)}: ${format(p.value)}${hasCi ? ` [${format(p.low!)}, ${format(p.high!)}]` : ''}${p.n !== undefined ? ` (n=${p.n})` : ''}`;
      const ci = hasCi
        ? `<line class="ci" stroke="${c}" x1="${px}" x2="${px}" y1="${n2(yOf(p.low!))}" y2="${n2(yOf(p.high!))}"/>` +
          `<line class="ci-cap" stroke="${c}" x1="${n2(px - 4)}" x2="${n2(px + 4)}" y1="${n2(yOf(p.low!))}" y2="${n2(yOf(p.low!))}"/>` +
          `<line class="ci-cap" stroke="${c}" x1="${n2(px - 4)}" x2="${n2(px + 4)}" y1="${n2(yOf(p.high!))}" y2="${n2(yOf(p.high!))}"/>`
        : '';
      const ring = spec.selected && spec.best?.x === p.x && s === 0 ? `<circle class="best-point" cx="${px}" cy="${py}" r="8"/>` : '';
      parts.push(
        `<g class="point" data-series="${esc(series.name)}" data-x="${p.x}" data-value="${p.value}"${hasCi ? ` data-low="${p.low}" data-high="${p.high}"` : ''}>` +
          `<title>${esc(tip)}</title>${ci}${ring}<circle cx="${px}" cy="${py}" r="4" fill="${c}"/></g>`,
      );
    }
  });
  if (spec.series.every((s) => !s.points.some((p) => Number.isFinite(p.value) && spec.xs.includes(p.x)))) {
    parts.push(`<text class="no-data" x="${n2(M.left + plotW / 2)}" y="${n2(M.top + plotH / 2)}">no figure (n = 0)</text>`);
  }
  parts.push(legend(spec.series.map((s) => s.name), H - 8));
  return frame(spec.id, spec.title, parts.join(''), H, spec.selected ? ' selected' : '');
}

export interface BarChartSpec {
  id: string;
  title: string;
  /** Along the x axis (e.g. the scores 1..10). */
  categories: string[];
  series: { name: string; values: number[] }[];
  /** A dashed line after the category at this index, e.g. the threshold C ("kept: > C"). */
  marker?: { after: number; label: string } | null;
}

/** Grouped vertical bars (score histograms). */
export function barChart(spec: BarChartSpec): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const top = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values)));
  const yOf = (v: number) => M.top + (1 - v / top) * plotH;
  const slot = plotW / Math.max(1, spec.categories.length);
  const barW = (slot * 0.8) / Math.max(1, spec.series.length);
  const parts: string[] = [];
  for (const t of countTicks(top, spec.series.flatMap((s) => s.values), 4)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${n2(yOf(t))}" y2="${n2(yOf(t))}"/>`);
    parts.push(`<text class="tick y-tick" x="${M.left - 6}" y="${n2(yOf(t) + 4)}">${esc(String(t))}</text>`);
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  spec.categories.forEach((cat, i) => {
    parts.push(`<text class="tick x-tick" x="${n2(M.left + (i + 0.5) * slot)}" y="${M.top + plotH + 16}">${esc(cat)}</text>`);
    spec.series.forEach((series, s) => {
      const v = series.values[i] ?? 0;
      const x = M.left + i * slot + slot * 0.1 + s * barW;
      parts.push(
        `<rect class="bar" data-series="${esc(series.name)}" data-category="${esc(cat)}" data-value="${v}" x="${n2(x)}" y="${n2(yOf(v))}" width="${n2(barW)}" height="${n2(M.top + plotH - yOf(v))}" fill="${colour(s)}">` +
          `<title>${esc(`${series.name} ${cat}: ${v}`)}</title></rect>`,
      );
    });
  });
  if (spec.marker) {
    const mx = n2(M.left + (spec.marker.after + 1) * slot);
    parts.push(`<g class="marker"><line x1="${mx}" x2="${mx}" y1="${M.top}" y2="${M.top + plotH}"/><text x="${mx}" y="${M.top - 3}">${esc(spec.marker.label)}</text></g>`);
  }
  parts.push(legend(spec.series.map((s) => s.name), H - 8));
  return frame(spec.id, spec.title, parts.join(''));
}

/** Ticks from 0 to top, whole numbers only where the values are counts. */
function countTicks(top: number, values: number[], count: number): number[] {
  const ticks = niceTicks(0, top, count);
  return values.every(Number.isInteger) ? ticks.filter(Number.isInteger) : ticks;
}

/** Grouped horizontal bars, one row per category (drop reasons), one bar per series (iteration). */
export function hBarChart(spec: { id: string; title: string; categories: string[]; series: { name: string; values: number[] }[] }): string {
  // Room for the longest row label (about 6 px a character at the tick font), within 170..260 px.
  const left = Math.min(260, Math.max(170, 12 + 6 * Math.max(0, ...spec.categories.map((c) => c.length))));
  const row = Math.max(16, 11 * spec.series.length + 6);
  const plotH = row * Math.max(1, spec.categories.length);
  const height = M.top + plotH + 44;
  const plotW = W - left - 40;
  const top = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.values)));
  const barH = (row - 6) / Math.max(1, spec.series.length);
  const parts: string[] = [];
  for (const t of countTicks(top, spec.series.flatMap((s) => s.values), 4)) {
    const x = n2(left + (t / top) * plotW);
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}"/><text class="tick x-tick" x="${x}" y="${M.top + plotH + 14}">${t}</text>`);
  }
  spec.categories.forEach((cat, i) => {
    const y0 = M.top + i * row;
    parts.push(`<text class="tick row-label" x="${left - 6}" y="${n2(y0 + row / 2 + 4)}">${esc(cat)}</text>`);
    spec.series.forEach((series, s) => {
      const v = series.values[i] ?? 0;
      const y = y0 + 3 + s * barH;
      parts.push(
        `<rect class="bar" data-series="${esc(series.name)}" data-category="${esc(cat)}" data-value="${v}" x="${left}" y="${n2(y)}" width="${n2((v / top) * plotW)}" height="${n2(barH)}" fill="${colour(s)}">` +
          `<title>${esc(`${series.name}, ${cat}: ${v}`)}</title></rect>`,
      );
      if (v > 0) parts.push(`<text class="bar-value" x="${n2(left + (v / top) * plotW + 3)}" y="${n2(y + barH - 1)}">${v}</text>`);
    });
  });
  parts.push(legend(spec.series.map((s) => s.name), height - 8));
  return frame(spec.id, spec.title, parts.join(''), height);
}
