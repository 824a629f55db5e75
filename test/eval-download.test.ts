/**
 * Benchmark files where no folder holds them: fetched from their pinned sources (a local HTTP server stands in for
 * the Hugging Face hub and GitHub, at the same URL paths, serving ../shared/eval's byte-exact copies), verified by
 * sha256 before use, cached, and a wrong or missing download refused with every URL tried named.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOrFetchEvalDir, SUITE_FILES } from '../src/activities/eval-data.js';
import { EVAL_SOURCES, fetchEvalFiles, sourceUrl } from '../src/activities/eval-download.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';

const SHARED = join(PROJECT_ROOT, '..', 'shared', 'eval');
const ALL_SUITES = ['ifeval', 'mtBench', 'alpacaEval', 'alpacaEval.text_davinci_003'];

let server: Server;
let base: string;
const requests: string[] = [];
/** What the stand-in serves wrong: a path here answers with altered bytes. */
const corrupt = new Set<string>();
beforeAll(async () => {
  // Every pinned source's URL path → the shared copy of its file.
  const routes = new Map<string, string>();
  const probe = { HF_ENDPOINT: 'http://x', ISHEEP_GITHUB_RAW: 'http://x/raw' };
  for (const [file, source] of Object.entries(EVAL_SOURCES)) for (const from of source.from) routes.set(new URL(sourceUrl(from, probe)).pathname, join(SHARED, file));
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requests.push(path);
    const file = routes.get(path);
    if (!file) return void res.writeHead(404).end('not found');
    const data = readFileSync(file);
    res.writeHead(200).end(corrupt.has(path) ? Buffer.concat([data, Buffer.from('\n')]) : data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server?.close());

const envFor = (cache: string) => ({ HF_ENDPOINT: base, ISHEEP_GITHUB_RAW: `${base}/raw`, ISHEEP_EVAL_CACHE: cache });

describe('fetching the benchmark files', () => {
  it('fetches every suite\'s files where no folder holds them, verified, once', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'isheep-eval-cache-'));
    const env = envFor(cache);
    const dir = await resolveOrFetchEvalDir(null, ALL_SUITES, true, { env, besideProject: null });
    expect(dir).toBe(cache);
    for (const file of ALL_SUITES.flatMap((s) => SUITE_FILES[s]!.files)) expect(readFileSync(join(cache, file))).toEqual(readFileSync(join(SHARED, file)));
    // IFEval from the hub dataset, the others from their upstream repositories at the pinned commits.
    expect(requests).toContain('/datasets/google/IFEval/resolve/966cd89545d6b6acfd7638bc708b98261ca58e84/ifeval_input_data.jsonl');
    expect(requests).toContain('/raw/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data/mt_bench/question.jsonl');
    // A second run finds them in the cache and fetches nothing.
    const before = requests.length;
    expect(await resolveOrFetchEvalDir(null, ALL_SUITES, true, { env, besideProject: null })).toBe(cache);
    expect(requests.length).toBe(before);
  });

  it('refuses a download whose sha256 is not the pinned one, trying the next source', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'isheep-eval-cache-'));
    const hub = new URL(sourceUrl(EVAL_SOURCES['ifeval/input_data.jsonl']!.from[0]!, envFor(cache))).pathname;
    corrupt.add(hub);
    try {
      await fetchEvalFiles(['ifeval/input_data.jsonl'], envFor(cache));
      // The hub's copy differed; the upstream repository's is the pinned one.
      expect(readFileSync(join(cache, 'ifeval/input_data.jsonl'))).toEqual(readFileSync(join(SHARED, 'ifeval/input_data.jsonl')));
      const mt = new URL(sourceUrl(EVAL_SOURCES['mt_bench/question.jsonl']!.from[0]!, envFor(cache))).pathname;
      corrupt.add(mt);
      await expect(fetchEvalFiles(['mt_bench/question.jsonl'], envFor(cache))).rejects.toThrow(
        /could not fetch 1 benchmark file\(s\):\n {2}- mt_bench\/question\.jsonl: http:\/\/127\.0\.0\.1:\d+\/raw\/lm-sys\/FastChat\/.*: sha256 [0-9a-f]{12}…, not the pinned 119565adbab8…/,
      );
      expect(existsSync(join(cache, 'mt_bench/question.jsonl'))).toBe(false); // nothing unverified is kept
    } finally {
      corrupt.clear();
    }
  });

  it('says where it looked and what it tried when nothing can be had, and never fetches past a configured folder', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'isheep-eval-cache-'));
    const nowhere = { HF_ENDPOINT: 'http://127.0.0.1:9', ISHEEP_GITHUB_RAW: 'http://127.0.0.1:9', ISHEEP_EVAL_CACHE: cache };
    await expect(resolveOrFetchEvalDir(null, ['ifeval'], true, { env: nowhere, besideProject: null })).rejects.toThrow(
      /the evaluation data of ifeval was not found; looked at[\s\S]*the download cache: .* has no ifeval\/input_data\.jsonl[\s\S]*Fetching them failed too: could not fetch 1 benchmark file\(s\):[\s\S]*127\.0\.0\.1:9\/datasets\/google\/IFEval/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'isheep-no-eval-data-'));
    const before = requests.length;
    await expect(resolveOrFetchEvalDir(empty, ['ifeval'], true, { env: envFor(cache), besideProject: null })).rejects.toThrow(`evaluation.data: ${empty} has no ifeval/input_data.jsonl`);
    expect(requests.length).toBe(before);
    // evaluation.fetch false: no download either.
    await expect(resolveOrFetchEvalDir(null, ['ifeval'], false, { env: envFor(cache), besideProject: null })).rejects.toThrow(/was not found/);
    expect(requests.length).toBe(before);
  });
});
