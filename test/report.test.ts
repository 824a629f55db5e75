/**
 * The HTML report of a real small run (the dev server, this host's workers, the test engine, four suites at a few
 * items each), opened in headless Chromium: no console or page error, no request, no script; a chart per metric
 * with a point per model, the best iteration marked, early stop noted, histograms, throughput, loss and samples.
 * Then the report's escaping, against model output written to break out, and `isheep report NAME --html`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/artifacts/store.js';
import { withPreset } from '../src/config/presets.js';
import { WORKFLOW_QUEUE } from '../src/queues.js';
import type { IterationSamples, RunReportDocument } from '../src/report/document.js';
import { renderHtmlReport } from '../src/report/html.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';
import type { RunResult } from '../src/workflows/types.js';
import { launchChromium, openPage } from './support/chromium.js';
import { fakeEngine, hostWorkers, startTemporal, tempStore, withWorkers } from './support/env.js';

const NAME = 'report-html';
let env: TestWorkflowEnvironment;
let browser: Promise<Browser> | undefined;
/** Chromium, started by the first test that needs it: where it is missing each of those tests fails, saying how to install it. */
const chromium = () => (browser ??= launchChromium());
let store: Store;
let result: RunResult;

beforeAll(async () => {
  env = await startTemporal();
  store = tempStore();
  // IFEval rates per model: base 0.3, then 0.6, 0.5, 0.45: iteration 1 is best, and patience 2 ends the run after 3 of 4.
  const workers = await hostWorkers(env, store, fakeEngine({ FAKE_IFEVAL_CURVE: '0.3,0.6,0.5,0.45' }));
  const config = withPreset('demo', {
    name: NAME,
    iterations: 4,
    model: { base: 'fake-model' },
    synthesis: { targetInstructions: 8, promptsPerRound: 2, maxRounds: 3 },
    engine: { shardSize: 16 },
    evaluation: {
      suites: { ifeval: { limit: 10 }, mtBench: { limit: 2 }, alpacaEval: { enabled: true, limit: 3, references: ['gpt4_1106_preview'] }, humanEval: { enabled: true, limit: 3 } },
      patience: 2,
    },
  });
  result = (await withWorkers(workers, () => env.client.workflow.execute('iSheepRun', { taskQueue: WORKFLOW_QUEUE, workflowId: NAME, args: [config] }))) as RunResult;
});

afterAll(async () => {
  await (await browser?.catch(() => null))?.close();
  await env?.teardown();
});

const jsonl = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('the HTML report of a run', () => {
  it('is rewritten by the writeReport activity after every iteration and once more at the end', async () => {
    expect(result.summaries.map((s) => s.iteration)).toEqual([1, 2, 3]);
    const history = await env.client.workflow.getHandle(NAME).fetchHistory();
    const reports = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'writeReport');
    expect(reports).toHaveLength(3 + 1);
    expect((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'writeDocument')).toBe(false);
    const doc = JSON.parse(readFileSync(store.path(`runs/${NAME}/report.json`), 'utf8')) as RunReportDocument;
    expect(doc.state).toEqual({ final: true, iterations: 4 });
    expect(doc.summaries).toEqual(result.summaries);
    expect(doc.cards.map((c) => c.iteration)).toEqual([1, 2, 3]);
    expect(readFileSync(store.path(`runs/${NAME}/report.md`), 'utf8')).toContain('best: iteration 1 by ifeval.promptStrict');
  });

  it('opens in Chromium without errors and shows every chart, the best iteration, early stop, histograms and samples', async () => {
    const file = store.path(`runs/${NAME}/report.html`);
    const { page, problems } = await openPage(await chromium(), pathToFileURL(file).href);
    try {
      expect(problems).toEqual({ console: [], errors: [], requests: [] });
      expect(await page.locator('script, iframe, object, embed, img').count()).toBe(0);

      // A chart per metric, a point per evaluated model (base = 0, then iterations 1..3), each with its interval.
      const points = (chart: string) => page.locator(`svg[data-chart="${chart}"] g.point:not([data-series="length-controlled"])`).evaluateAll((gs) => gs.map((g) => g.getAttribute('data-x')));
      const metrics = [
        'ifeval.promptStrict', 'ifeval.promptLoose', 'ifeval.instructionStrict', 'ifeval.instructionLoose',
        'alpacaEval.winRate.gpt4_1106_preview', 'humanEval.passAt1',
      ];
      for (const chart of metrics) expect(await points(chart), chart).toEqual(['0', '1', '2', '3']);
      // MT-Bench: the test judge's ratings; a model whose ratings all failed to parse has no point.
      for (const chart of ['mtBench.turn1', 'mtBench.turn2', 'mtBench.overall']) expect(await page.locator(`svg[data-chart="${chart}"]`).count()).toBe(1);
      const ifeval = page.locator('svg[data-chart="ifeval.promptStrict"]');
      const strict = await ifeval.locator('g.point').evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-value'))));
      expect(strict).toEqual([result.baselineSuites!.ifeval!.promptStrict.value, ...result.summaries.map((s) => s.suites!.ifeval!.promptStrict.value)]);
      expect(await ifeval.locator('line.ci').count()).toBe(4);
      // AlpacaEval's "previous model" series gathers base (iteration 1's previous) and iter-1, iter-2 (2's and 3's).
      expect(await page.locator('svg[data-chart="alpacaEval.winRate.previous model"] g.point').count()).toBe(2);
      expect(await page.locator('svg[data-chart="alpacaEval.winRate.base"] g.point[data-series="win rate"]').count()).toBe(3);

      // The best iteration: marked on every metric chart, its point ringed on the metric it is chosen by.
      expect(await page.locator('svg[data-chart] .best-mark[data-best="1"]').count()).toBe(metrics.length + 3 + 2);
      expect(await ifeval.getAttribute('class')).toContain('selected');
      expect(await ifeval.locator('.best-point').count()).toBe(1);
      expect(await page.locator('#best').getAttribute('data-best')).toBe('1');
      expect(await page.locator('#stopped-early').textContent()).toMatch(/ifeval\.promptStrict has not improved on iteration 1's .* for 2 iteration\(s\)/);
      expect(await page.locator('#in-progress').count()).toBe(0);

      // Keep rates per stage and drop reasons, as in the cards.
      const card = result.summaries.map((s) => JSON.parse(readFileSync(store.path(`runs/${NAME}/iter-${s.iteration}/card.json`), 'utf8')));
      expect(await page.locator('svg[data-chart="keep-rates"] g.point[data-series="self-assessment"]').evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-value'))))).toEqual(
        card.map((c) => c.assessment.kept / c.assessment.in),
      );
      const lowQuality = await page.locator('svg[data-chart="dropped.self-assessment"] rect.bar[data-category="low_quality"]').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-value'))));
      expect(lowQuality).toEqual(card.map((c) => c.assessment.dropped.low_quality));

      // Score histograms, ten bars per pass per iteration, with the threshold C.
      for (const c of card) {
        const hist = page.locator(`svg[data-chart="histogram.${c.iteration}"]`);
        const quality = await hist.locator('rect.bar[data-series="quality"]').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-value'))));
        expect(quality).toEqual(c.assessment.histograms.quality);
        expect(await hist.locator('rect.bar[data-series="instruction following"]').count()).toBe(10);
        expect(await hist.locator('.marker').textContent()).toBe('kept: > 8');
      }

      // Throughput per stage and training loss per iteration.
      expect(await page.locator('svg[data-chart="throughput"] rect.bar[data-category="responses"]').count()).toBe(3);
      expect(await page.locator('svg[data-chart="training-loss"] g.point[data-series="train"]').count()).toBe(3);

      // Samples: the first kept pairs and the first dropped by the self-assessment, as in the artifacts.
      for (const c of card) {
        const block = page.locator(`details.iteration-samples[data-iteration="${c.iteration}"]`);
        const kept = jsonl(store.path(`runs/${NAME}/iter-${c.iteration}/kept.jsonl`)).slice(0, 3);
        expect(await block.locator('article.sample.kept').evaluateAll((as) => as.map((a) => a.getAttribute('data-id')))).toEqual(kept.map((p) => p.id));
        expect(await block.locator('article.sample.assessment').count()).toBe(Math.min(3, c.assessment.in - c.assessment.kept));
      }
      const last = page.locator('details.iteration-samples[data-iteration="3"]');
      expect(await last.getAttribute('open')).not.toBeNull();
      const firstKept = jsonl(store.path(`runs/${NAME}/iter-3/kept.jsonl`))[0];
      expect(await last.locator('article.sample.kept pre').first().textContent()).toBe(firstKept.instruction);
      expect(await last.locator('article.sample.assessment .tags span').first().textContent()).toMatch(/^dropped: (low|unparsable|out_of_range)_(quality|following)$/);
      expect(problems).toEqual({ console: [], errors: [], requests: [] });
    } finally {
      await page.close();
    }
  });

  it('shows model output as text: markup in a sample can neither run nor load anything', async () => {
    const doc = JSON.parse(readFileSync(store.path(`runs/${NAME}/report.json`), 'utf8')) as RunReportDocument;
    const evil = '</pre></dd><script>window.pwned = 1</script><img src="http://127.0.0.1:9/x" onerror="window.pwned = 2"><svg onload="window.pwned = 3">';
    doc.cards[0]!.synthesis.dropped = { [`<b onmouseover="x">reason</b>`]: 1 };
    const samples: IterationSamples[] = [
      { iteration: 1, kept: [{ id: `"><script>window.pwned=4</script>`, instruction: evil, input: `' onfocus='window.pwned=5`, response: evil, qualityScore: 9, followingScore: 10 }], ruleDropped: [], assessmentDropped: [], notes: [evil] },
    ];
    const html = renderHtmlReport(doc, samples);
    expect(html).not.toMatch(/<script|<img|on(error|load|focus|mouseover)=["']/i);
    const file = join(store.root, 'evil.html');
    writeFileSync(file, html);
    const { page, problems } = await openPage(await chromium(), pathToFileURL(file).href);
    try {
      expect(problems).toEqual({ console: [], errors: [], requests: [] });
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.locator('script, img, b').count()).toBe(0);
      expect(await page.locator('article.sample.kept pre').first().textContent()).toBe(evil);
      expect(await page.locator('article.sample.kept').getAttribute('data-id')).toBe(`"><script>window.pwned=4</script>`);
      expect(await page.locator('svg[data-chart="dropped.synthesis"] .row-label').first().textContent()).toBe(`<b onmouseover="x">reason</b>`);
    } finally {
      await page.close();
    }
  });

  it('`isheep report NAME --html` prints the HTML file\'s path, without a server', () => {
    const run = spawnSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), 'report', NAME, '--html'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ISHEEP_STORE: store.root, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(store.path(`runs/${NAME}/report.html`));
    const missing = spawnSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), 'report', 'no-such-run', '--html'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ISHEEP_STORE: store.root },
      encoding: 'utf8',
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('run no-such-run has no report');
  });
});
