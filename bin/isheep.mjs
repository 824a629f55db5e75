#!/usr/bin/env node
// The `isheep` command. In a checkout: the TypeScript CLI through tsx (no build step). In the installed npm
// package, which ships dist/ and not src/: the compiled CLI.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
