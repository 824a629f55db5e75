/**
 * The run input's JSON Schema (from the zod schema, z.toJSONSchema, as the input a person writes: defaults are
 * optional) plus `preset`, and a Markdown reference of every field made from it. Both are committed
 * (schemas/run-config.schema.json, docs/config-reference.md) by `npx tsx scripts/config-docs.ts`; a test fails
 * when they are stale. The cross-field rules (an external grader needs its endpoint, ...) are the zod schema's
 * own and are not in the JSON Schema.
 */
import { z } from 'zod';
import { presets } from './presets.js';
import { configSchema } from './schema.js';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  [key: string]: unknown;
};

/** The input without a preset: every field the schema requires must be there. */
function fullInput(): JsonSchema {
  const { $schema: _, ...schema } = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return {
    ...schema,
    properties: {
      preset: { type: 'string', enum: Object.keys(presets), description: 'A named starting point merged under the other fields (src/config/presets.ts).' },
      ...schema.properties,
    },
  };
}

/** With a preset, the preset supplies the rest: only `name` is required, and nested objects may be partial. */
function withoutRequired(s: JsonSchema, keep: string[] = []): JsonSchema {
  const out: JsonSchema = { ...s };
  if (out.required) out.required = out.required.filter((k) => keep.includes(k));
  if (out.required?.length === 0) delete out.required;
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, withoutRequired(v)]));
  if (out.anyOf) out.anyOf = out.anyOf.map((v) => withoutRequired(v));
  return out;
}

export function runInputJsonSchema(): JsonSchema {
  const full = fullInput();
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'isheep/run-config.schema.json',
    title: 'isheep run input (the iSheepRun workflow input, `isheep start --config`)',
    type: 'object',
    if: { type: 'object', required: ['preset'] },
    then: withoutRequired(full, ['name', 'preset']),
    else: full,
  };
}

export function schemaText(): string {
  return `${JSON.stringify(runInputJsonSchema(), null, 2)}\n`;
}

/** "integer 1..65536", "number > 0", "string", "one of a, b", "null | integer ≥ 1" */
function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.enum) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const type = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  if (type === 'array') return `array of ${s.items ? typeOf(s.items) : 'any'}${s.maxItems !== undefined ? ` (≤ ${s.maxItems})` : ''}`;
  const low = s.minimum !== undefined ? `${s.minimum}` : s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : null;
  const high = s.maximum !== undefined ? `${s.maximum}` : s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : null;
  if (low !== null && high !== null && !low.startsWith('>') && !high.startsWith('<')) return `${type} ${low}..${high}`;
  const bounds = [low !== null ? (low.startsWith('>') ? low : `≥ ${low}`) : null, high !== null ? (high.startsWith('<') ? high : `≤ ${high}`) : null].filter(Boolean);
  return bounds.length ? `${type} ${bounds.join(', ')}` : type;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Every field as a row: dotted path, type, default, what it is. */
export function configReference(): string {
  const rows: string[] = [];
  // `inherited`: the enclosing object's own default (e.g. synthesis.sampling's), which supplies its fields when
  // the object is left out.
  const walk = (s: JsonSchema, path: string, required: boolean, inherited: unknown) => {
    const nested = s.type === 'object' && s.properties;
    const own = s.default !== undefined && !(typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0) ? s.default : undefined;
    const dflt = own ?? inherited;
    if (!nested && path) {
      const shown = dflt === undefined ? (required ? '**required**' : '–') : `\`${JSON.stringify(dflt)}\``;
      rows.push(`| \`${path}\` | ${cell(typeOf(s))} | ${cell(shown)} | ${cell(s.description ?? '')} |`);
    }
    if (nested) {
      if (path && s.description) rows.push(`| \`${path}\` | object | | ${cell(s.description)} |`);
      for (const [key, child] of Object.entries(s.properties!)) {
        const from = typeof dflt === 'object' && dflt !== null ? (dflt as Record<string, unknown>)[key] : undefined;
        walk(child, path ? `${path}.${key}` : key, (s.required ?? []).includes(key), from);
      }
    }
  };
  walk(fullInput(), '', false, undefined);
  return [
    '# Run config reference',
    '',
    'Generated from the zod schema (`src/config/schema.ts`) by `npx tsx scripts/config-docs.ts`; do not edit by hand.',
    'The same fields are the workflow input in the Web UI, `isheep start --config FILE` and `--set key.path=value`.',
    'A `preset` is merged under the fields given; where neither says, the default below (the paper\'s value) applies.',
    'The JSON Schema is `schemas/run-config.schema.json`.',
    '',
    '| field | type | default | what it is |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
