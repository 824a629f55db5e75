/**
 * Debian's Chromium (`apt-get install -y chromium`), driven by playwright-core, which never downloads a browser:
 * the report tests open the HTML report in it. ISHEEP_CHROMIUM names another executable.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.ISHEEP_CHROMIUM ?? '/usr/bin/chromium';

/** Starts headless Chromium, or fails saying how to install it (the tests need it: they are never skipped). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the report tests open the HTML report in it. Install Debian's package ` +
        '(apt-get update && apt-get install -y chromium; .ci/run does this when it is missing) or set ISHEEP_CHROMIUM to a Chromium executable.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/** Everything the page reported going wrong: console errors and warnings, uncaught errors, failed requests. */
export interface PageProblems {
  console: string[];
  errors: string[];
  requests: string[];
}

/** Opens `url` in a new page of `browser`, recording its problems from the first byte on. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1400, height: 900 }): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage({ viewport });
  const problems: PageProblems = { console: [], errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.errors.push(e.message));
  page.on('request', (r) => {
    if (r.url() !== url) problems.requests.push(r.url());
  });
  page.on('requestfailed', (r) => problems.requests.push(`failed: ${r.url()}`));
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}
