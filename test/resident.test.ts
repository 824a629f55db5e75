/**
 * The resident engine (src/engine/resident.ts) over the test engine's `serve` form: jobs share one process and its
 * loaded models, and every way a job can end leaves the next job a working engine.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ResidentEngine, slotEngine } from '../src/engine/resident.js';
import { EngineError, SubprocessEngine, type EngineEvent } from '../src/engine/runner.js';
import { FAKE_ENGINE, tempStore } from './support/env.js';

const RESIDENT_WORKER = fileURLToPath(new URL('./support/resident-worker.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function setup(env: Record<string, string> = {}) {
  const dir = tempStore().root;
  const loads = join(dir, 'loads.log');
  writeFileSync(loads, '');
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, Array.from({ length: 4 }, (_, i) => `${JSON.stringify({ id: `r${i}`, prompt: `Say ${i}` })}\n`).join(''));
  const options = { command: [process.execPath, FAKE_ENGINE], env: { FAKE_ENGINE_LOADS_LOG: loads, ...env } };
  const spec = (name: string, model = '/models/a') => ({ model, input, output: join(dir, `${name}.jsonl`), sampling: { seed: 1 } });
  return { dir, loads: () => readFileSync(loads, 'utf8').split('\n').filter(Boolean), options, spec, specPath: (name: string) => join(dir, `${name}.spec.json`) };
}

describe('the resident engine', () => {
  it('runs a slot\'s generate jobs in one process that loads each model once, writing what one-job processes write', async () => {
    const t = setup();
    const engine = new ResidentEngine(t.options);
    const progress: EngineEvent[] = [];
    const first = await engine.run('generate', t.spec('a'), { specPath: t.specPath('a'), onProgress: (e) => progress.push(e) });
    const pid = engine.serverPid;
    await engine.run('generate', t.spec('b'), { specPath: t.specPath('b') });
    await engine.run('generate', t.spec('c', '/models/other'), { specPath: t.specPath('c') });
    expect(engine.serversStarted).toBe(1);
    expect(engine.serverPid).toBe(pid);
    expect(t.loads().map((l) => l.split(' ')[1])).toEqual(['/models/a', '/models/other']);
    expect(first).toMatchObject({ event: 'result', rows: 4 });
    expect(first).not.toHaveProperty('job_id');
    expect(progress[0]).toEqual({ event: 'progress', stage: 'loading' });

    const alone = new SubprocessEngine({ ...t.options, resident: false });
    await alone.run('generate', t.spec('d'), { specPath: t.specPath('d') });
    expect(readFileSync(join(t.dir, 'b.jsonl'), 'utf8')).toBe(readFileSync(join(t.dir, 'd.jsonl'), 'utf8'));
    await engine.close();
    expect(alive(pid!)).toBe(false);
  });

  it('keeps its process after a job that failed, and starts another for other devices', async () => {
    const t = setup();
    const engine = new ResidentEngine(t.options);
    await engine.run('generate', t.spec('a'), { specPath: t.specPath('a') });
    const err = await engine.run('generate', { ...t.spec('b'), input: join(t.dir, 'missing.jsonl') }, { specPath: t.specPath('b') }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.kind).toBe('bad_input');
    expect(err.message).toContain('missing.jsonl');
    await engine.run('generate', t.spec('c'), { specPath: t.specPath('c') });
    expect(engine.serversStarted).toBe(1);
    const before = engine.serverPid!;
    await engine.run('generate', t.spec('d'), { specPath: t.specPath('d'), env: { CUDA_VISIBLE_DEVICES: '' , OMP_NUM_THREADS: '1' } });
    expect(engine.serversStarted).toBe(2);
    await until(() => !alive(before));
    await engine.close();
  });

  it('cancelling kills the process group; a server killed from outside fails its job as exited; the next job gets a new server', async () => {
    const t = setup({ FAKE_ENGINE_SLOW_MS: '400' });
    const engine = new ResidentEngine(t.options);
    const abort = new AbortController();
    const cancelled = engine.run('generate', t.spec('a'), { specPath: t.specPath('a'), signal: abort.signal, onProgress: (e) => e.done === 1 && abort.abort() }).catch((e) => e);
    await until(() => engine.serverPid !== undefined);
    const pid = engine.serverPid!;
    const err = await cancelled;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.kind).toBe('cancelled');
    await until(() => !alive(pid));

    const killed = engine.run('generate', t.spec('b'), { specPath: t.specPath('b'), onProgress: (e) => e.done === 1 && process.kill(engine.serverPid!, 'SIGKILL') }).catch((e) => e);
    const err2 = await killed;
    expect(err2.kind).toBe('exited');
    expect(err2.message).toContain('killed by SIGKILL');

    const result = await engine.run('generate', t.spec('b'), { specPath: t.specPath('b') });
    expect(result).toMatchObject({ rows: 4 });
    expect(engine.serversStarted).toBe(3);
    // The job killed after its first row resumed from its partial file: the same rows as a job never interrupted.
    await engine.run('generate', t.spec('c'), { specPath: t.specPath('c') });
    expect(readFileSync(join(t.dir, 'b.jsonl'), 'utf8')).toBe(readFileSync(join(t.dir, 'c.jsonl'), 'utf8'));
    await engine.close();
  });

  it('runs other jobs as processes of their own; on a GPU slot a train job first stops the server, freeing its models', async () => {
    const t = setup({ CUDA_VISIBLE_DEVICES: '0' });
    const engine = new ResidentEngine(t.options);
    await engine.run('generate', t.spec('a'), { specPath: t.specPath('a') });
    const pid = engine.serverPid!;
    const data = join(t.dir, 'train.jsonl');
    writeFileSync(data, `${JSON.stringify({ instruction: 'x', output: 'y' })}\n`);
    const trained = await engine.run('train', { data, output: join(t.dir, 'model'), epochs: 1, per_device_batch_size: 1, gradient_accumulation_steps: 1, max_steps: 1 }, { specPath: t.specPath('train') });
    expect(trained).toMatchObject({ event: 'result', steps: 1 });
    expect(alive(pid)).toBe(false);
    expect(engine.serverPid).toBeUndefined();
    await engine.run('generate', t.spec('b'), { specPath: t.specPath('b') });
    expect(engine.serversStarted).toBe(2);
    await engine.close();

    const cpu = setup();
    const onCpu = new ResidentEngine(cpu.options);
    await onCpu.run('generate', cpu.spec('a'), { specPath: cpu.specPath('a') });
    await onCpu.run('import-model', { source: 'x', output: join(cpu.dir, 'm') }, { specPath: cpu.specPath('import') });
    await onCpu.run('generate', cpu.spec('b'), { specPath: cpu.specPath('b') });
    expect(onCpu.serversStarted).toBe(1); // on CPU the loaded models stay
    await onCpu.close();
  });

  it('a worker killed with SIGKILL takes its server along', { timeout: 30_000 }, async () => {
    const t = setup();
    const worker = spawn(process.execPath, ['--import', 'tsx', RESIDENT_WORKER], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RESIDENT_OPTIONS: JSON.stringify(t.options), RESIDENT_SPEC: JSON.stringify(t.spec('a')), RESIDENT_SPEC_PATH: t.specPath('a') },
    });
    const pid = await new Promise<number>((resolve) => worker.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    expect(alive(pid)).toBe(true);
    worker.kill('SIGKILL');
    await until(() => !alive(pid));
  });

  it('is what a model slot gets from a SubprocessEngine, unless switched off', () => {
    const options = { command: [process.execPath, FAKE_ENGINE] };
    expect(slotEngine(new SubprocessEngine(options))).toBeInstanceOf(ResidentEngine);
    const plain = new SubprocessEngine({ ...options, resident: false });
    expect(slotEngine(plain)).toBe(plain);
  });
});
