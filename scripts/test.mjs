#!/usr/bin/env node
// Runs both test suites — vitest (TypeScript: stages, workflows on a real dev server, the real engine end to
// end) and pytest (the Python engine) — and closes with one line that CI reads: "N passed, N failed".
//   node scripts/test.mjs [vitest args...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, '.isheep', 'test-results');
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });
const tools = JSON.parse(readFileSync(join(root, '.isheep', 'tools.json'), 'utf8'));
const python = process.env.ISHEEP_PYTHON ?? tools.python;

const counts = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

// 1. The engine's own tests (pytest), in the engine's virtual environment.
const junit = join(results, 'pytest.xml');
const py = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${junit}`, 'tests'], {
  cwd: join(root, 'engine'),
  stdio: 'inherit',
  env: { ...process.env, PYTHONPATH: join(root, 'engine') },
});
if (existsSync(junit)) {
  const xml = readFileSync(junit, 'utf8');
  const suite = /<testsuite [^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (name) => Number(new RegExp(`${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const failed = attr('failures') + attr('errors');
  counts.failed += failed;
  counts.skipped += attr('skipped');
  counts.passed += attr('tests') - failed - attr('skipped');
}
if (py.status !== 0) broken = true;

// 2. The TypeScript suites (vitest), with a JSON report to count from.
const vitestJson = join(results, 'vitest.json');
const vt = spawnSync(
  join(root, 'node_modules', '.bin', 'vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  counts.passed += report.numPassedTests;
  counts.failed += report.numFailedTests;
  counts.skipped += report.numPendingTests + (report.numTodoTests ?? 0);
} else {
  broken = true;
}
if (vt.status !== 0) broken = true;

const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
console.log(`\n${counts.passed} passed, ${counts.failed} failed${skipped}`);
process.exit(broken || counts.failed > 0 || counts.passed === 0 ? 1 : 0);
