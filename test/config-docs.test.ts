/**
 * The committed JSON Schema of the run input and the config reference are what the zod schema makes now
 * (regenerate: npx tsx scripts/config-docs.ts), and the JSON Schema accepts each preset's Web UI input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { configReference, runInputJsonSchema, schemaText } from '../src/config/json-schema.js';
import { PRESET_NAMES } from '../src/config/input.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';

describe('the run config, documented', () => {
  it('has a current JSON Schema and reference committed', () => {
    expect(readFileSync(join(PROJECT_ROOT, 'schemas', 'run-config.schema.json'), 'utf8')).toBe(schemaText());
    expect(readFileSync(join(PROJECT_ROOT, 'docs', 'config-reference.md'), 'utf8')).toBe(configReference());
  });

  it('documents every field, with its default', () => {
    const reference = configReference();
    for (const path of ['preset', 'name', 'model.base', 'synthesis.sampling.maxNewTokens', 'evaluation.suites.alpacaEval.references', 'evaluation.judge.endpoint.apiKeyEnv', 'allowCpuAtPaperScale']) {
      expect(reference).toContain(`| \`${path}\` |`);
    }
    expect(reference).toMatch(/\| `synthesis\.targetInstructions` \| integer 1\.\.100000 \| `10000` \|/);
  });

  it('accepts the Web UI input of each preset and rejects a misspelt field', () => {
    const validate = new Ajv2020({ strict: false }).compile(runInputJsonSchema());
    for (const preset of PRESET_NAMES) {
      const input = { name: `ui-${preset}`, preset, model: { base: 'Qwen/Qwen1.5-7B' } };
      expect(validate(input), JSON.stringify(validate.errors)).toBe(true);
    }
    // With a preset, only the name is needed and nested objects may be partial (the preset fills them).
    expect(validate({ name: 'x', preset: 'demo' })).toBe(true);
    expect(validate({ name: 'x', preset: 'demo', synthesis: { sampling: { temperature: 0.5 } } })).toBe(true);
    expect(validate({ name: 'x', synthesis: { sampling: { temperature: 0.5 } }, model: { base: 'm' } })).toBe(false); // no preset: all of it
    expect(validate({ name: 'x' })).toBe(false);
    expect(validate({ name: 'x', model: { base: 'm' }, synthesys: {} })).toBe(false);
    expect(validate({ name: 'x', preset: 'demo', synthesys: {} })).toBe(false);
    expect(validate({ name: 'x', preset: 'tiny' })).toBe(false);
  });
});
