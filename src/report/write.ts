/**
 * Writes a run's report into its folder: report.json (the document), report.md (the table) and report.html
 * (charts and sample pairs read from the iterations' artifacts). Called by the data activity writeReport after
 * every iteration and at the end of the run, and by `isheep report --html` for runs that predate the HTML.
 */
import { writeText } from '../artifacts/text.js';
import { readFile } from 'node:fs/promises';
import { ArtifactError, type Store } from '../artifacts/store.js';
import { renderReport } from '../workflows/report.js';
import type { IterationCard, IterationSummary } from '../workflows/types.js';
import type { ReportInput, RunReportDocument } from './document.js';
import { renderHtmlReport } from './html.js';
import { readReportSamples } from './samples.js';

/** The Markdown table of a report document (what the run wrote at its end before HTML reports). */
export function reportMarkdown(doc: RunReportDocument): string {
  const extras = 'baselineSuites' in doc ? { baselineSuites: doc.baselineSuites ?? undefined, best: doc.best, stoppedEarly: doc.stoppedEarly } : {};
  return renderReport(doc.config.name, doc.baseline, doc.summaries, extras);
}

/** The HTML page of a report document, with sample pairs read from the run's folder `run`. */
export async function reportHtml(store: Store, run: string, doc: RunReportDocument): Promise<string> {
  const a = doc.config.assessment;
  const samples = await readReportSamples(store, run, doc.cards, { rules: doc.config.ruleFilter.rules, level: a.level, threshold: a.threshold });
  return renderHtmlReport(doc, samples);
}

async function readJson<T>(store: Store, uri: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(store.path(uri), 'utf8');
  } catch {
    throw new ArtifactError(`${uri} is missing from the store at ${store.root}`, 'missing');
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ArtifactError(`${uri}: not valid JSON`, 'corrupt');
  }
}

/**
 * The report document of `input`: the latest summary is saved in its iteration's folder first, then the summaries
 * and data cards of iterations 1..input.iterations are read back (each written by this run: iterations go in order).
 */
export async function reportDocument(store: Store, input: ReportInput): Promise<RunReportDocument> {
  const { run, latest } = input;
  if (latest) await writeText(store, `${run}/iter-${latest.iteration}/summary.json`, `${JSON.stringify(latest, null, 2)}\n`);
  const summaries: IterationSummary[] = [];
  const cards: IterationCard[] = [];
  for (let t = 1; t <= input.iterations; t++) {
    summaries.push(await readJson<IterationSummary>(store, `${run}/iter-${t}/summary.json`));
    cards.push(await readJson<IterationCard>(store, `${run}/iter-${t}/card.json`));
  }
  return {
    config: input.config,
    baseline: input.baseline,
    ...('baselineSuites' in input ? { baselineSuites: input.baselineSuites ?? null, best: input.best ?? null, stoppedEarly: input.stoppedEarly ?? null } : {}),
    summaries,
    cards,
    state: input.state,
  };
}

/** Writes `${run}/report.{json,md,html}` (each atomically) and returns the report's uri without extension. */
export async function writeRunReport(store: Store, input: ReportInput): Promise<string> {
  const doc = await reportDocument(store, input);
  const uri = `${input.run}/report`;
  await writeText(store, `${uri}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  await writeText(store, `${uri}.md`, reportMarkdown(doc));
  await writeText(store, `${uri}.html`, await reportHtml(store, input.run, doc));
  return uri;
}

/** Writes only report.html, from the report.json already there (runs finished before HTML reports). */
export async function writeHtmlFromJson(store: Store, run: string, doc: RunReportDocument): Promise<string> {
  const uri = `${run}/report.html`;
  await writeText(store, uri, await reportHtml(store, run, doc));
  return uri;
}
