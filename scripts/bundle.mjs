#!/usr/bin/env node
// Bundles the CLI entry (dist/main.js and the modules it loads) into dist/cli/ so that a cron run loads a
// handful of files instead of ~50: module resolution and loading were most of box-qc's start-up cost over
// `node -e 0` (issue 2, bench/startup). One file: box-qc's own lazily imported modules are inlined (measured:
// no slower than code-split chunks, and simpler); undici, jose, open and ora stay external and are still
// imported only where needed. The library build (dist/*.js
// from tsc) is untouched: `import ... from 'box-qc'` does not use this bundle.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: `${root}dist/main.js` },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['undici', 'jose', 'open', 'ora', 'pg', 'pg-native'],
  // commander is CommonJS: give the ESM bundle a `require` for its node:* requires.
  banner: { js: "import { createRequire as __boxQcCreateRequire } from 'node:module'; const require = __boxQcCreateRequire(import.meta.url);" },
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
});
