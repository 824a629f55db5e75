#!/usr/bin/env node
// A PNG of a run's HTML report, taken by Debian's headless Chromium (the same one the report tests use):
//
//   node scripts/report-screenshot.mjs NAME out.png [--width 1400] [--height 1800]
//   node scripts/report-screenshot.mjs path/to/report.html out.png
//
// NAME is a run in the store at ISHEEP_STORE (default .isheep/store); its report.html is found (or, for a run that
// predates HTML reports, rendered from report.json) by `isheep report NAME --html`. --height cuts the page at that
// many pixels from the top (default: the whole page). Chromium: /usr/bin/chromium (apt-get install -y chromium), or
// ISHEEP_CHROMIUM. playwright-core drives it and never downloads a browser.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { width: { type: 'string', default: '1400' }, height: { type: 'string' } },
});
const [target, out] = positionals;
if (!target || !out) {
  console.error('usage: node scripts/report-screenshot.mjs <run name | report.html> <out.png> [--width 1400] [--height N]');
  process.exit(2);
}

let file = target;
if (!target.endsWith('.html')) {
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'cli', 'main.ts'), 'report', target, '--html'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
  file = r.stdout.trim();
}
if (!existsSync(file)) {
  console.error(`${file} does not exist`);
  process.exit(1);
}

const executablePath = process.env.ISHEEP_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`Chromium is not installed at ${executablePath}: apt-get update && apt-get install -y chromium (or set ISHEEP_CHROMIUM)`);
  process.exit(1);
}
const width = Number(values.width);
const browser = await chromium.launch({ executablePath, headless: true });
try {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: 'load' });
  const full = await page.evaluate(() => document.documentElement.scrollHeight);
  const height = values.height ? Math.min(Number(values.height), full) : full;
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width, height }, fullPage: true });
  console.log(`${out}: ${width} × ${height} px of ${file}`);
} finally {
  await browser.close();
}
