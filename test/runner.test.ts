import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError, SubprocessEngine } from '../src/engine/runner.js';
import { tempStore } from './support/env.js';

/** A tiny engine written inline, to drive the runner through each way a job can end. */
function scriptEngine(body: string) {
  const dir = tempStore().root;
  const script = join(dir, 'engine.mjs');
  writeFileSync(script, `const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');\n${body}\n`);
  return { engine: new SubprocessEngine({ command: [process.execPath, script] }), specPath: join(dir, 'spec.json'), dir };
}

/** Running, as opposed to gone or a zombie that nobody reaped (killed processes here are reparented to an init that may not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('running an engine job', () => {
  it('passes progress events on and returns the result', async () => {
    const { engine, specPath } = scriptEngine(`emit({event:'progress', done: 1, total: 2}); console.error('log line'); emit({event:'result', rows: 2});`);
    const seen: unknown[] = [];
    const result = await engine.run('generate', { a: 1 }, { specPath, onProgress: (e) => seen.push(e) });
    expect(result).toEqual({ event: 'result', rows: 2 });
    expect(seen).toEqual([{ event: 'progress', done: 1, total: 2 }]);
    expect(existsSync(specPath)).toBe(true);
  });

  it('turns an error event into an EngineError of that kind', async () => {
    const { engine, specPath } = scriptEngine(`emit({event:'error', kind:'bad_input', message:'input.jsonl:3: not JSON'}); process.exit(2);`);
    const err = await engine.run('generate', {}, { specPath }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.kind).toBe('bad_input');
    expect(err.message).toContain('input.jsonl:3');
  });

  it('explains a job that died without a word, with its last stderr lines', async () => {
    const { engine, specPath } = scriptEngine(`console.error('Segmentation fault (core dumped)'); process.kill(process.pid, 'SIGKILL');`);
    const err = await engine.run('train', {}, { specPath }).catch((e) => e);
    expect(err.kind).toBe('exited');
    expect(err.message).toMatch(/killed by SIGKILL/);
    expect(err.message).toContain('Segmentation fault');
  });

  it('kills the whole process group when cancelled', async () => {
    const { engine, specPath, dir } = scriptEngine(`
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      (await import('node:fs')).writeFileSync(${JSON.stringify('')} + process.argv[4].replace('spec.json', 'grandchild.pid'), String(child.pid));
      emit({event:'progress', stage:'running'});
      setInterval(() => {}, 1000);`);
    const abort = new AbortController();
    const run = engine.run('generate', {}, { specPath, signal: abort.signal, onProgress: () => abort.abort() });
    const err = await run.catch((e) => e);
    expect(err.kind).toBe('cancelled');
    const pid = Number(readFileSync(join(dir, 'grandchild.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false); // the grandchild is gone too
  });
});
