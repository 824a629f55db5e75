/** Writes the run input's JSON Schema and the config reference (src/config/json-schema.ts): npx tsx scripts/config-docs.ts */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReference, schemaText } from '../src/config/json-schema.js';

for (const [file, text] of [
  ['../schemas/run-config.schema.json', schemaText()],
  ['../docs/config-reference.md', configReference()],
] as const) {
  const path = fileURLToPath(new URL(file, import.meta.url));
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
