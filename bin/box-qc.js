#!/usr/bin/env node
// Runs the bundled CLI (dist/cli/main.mjs, built by `npm run build`), or the plain tsc output when the bundle
// is missing or older than it (someone ran tsc alone): a stale bundle must never run.
import { statSync } from 'node:fs';

const mtime = (rel) => {
  try {
    return statSync(new URL(rel, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
await import(mtime('../dist/cli/main.mjs') >= mtime('../dist/main.js') ? '../dist/cli/main.mjs' : '../dist/main.js');
