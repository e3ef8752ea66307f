#!/usr/bin/env node
// Bundles the CLI entry (dist/main.js and the modules it loads) into one CommonJS file, dist/cli/main.cjs, and
// records a V8 code cache (dist/cli/main.cjs.cache) and a source map (dist/cli/main.cjs.map) for it, because
// start-up is what a cron job pays on every run (issue 2, bench/startup). What each step buys, measured
// against `node -e 0` (see BENCHMARKS.md):
//   - one file instead of ~50: module resolution and loading were most of the cost;
//   - CommonJS rather than an ES module: Node 20 starts its ESM loader for an .mjs entry (~5 ms), and esbuild
//     puts a lazily initialised module's `require()`s inside its init function, whereas an ESM bundle hoists
//     every `import` of node:crypto, node:http... to the top and loads them all on every run;
//   - no comments or indentation, read as latin1 (below): reading and decoding the file is paid on every run;
//   - lazy builtins (below): even a module that *is* initialised (commander, the file store) only loads the
//     node:* modules it actually touches; `status` on an empty store never loads crypto or child_process;
//   - the code cache: V8 skips parsing and compiling the bundle (bin/box-qc.js loads it with vm.Script).
// box-qc's own dynamically imported modules are inlined and initialised on first use; undici, jose, open, ora
// and pg stay external and are import()ed only where needed. pg, which every command on a PostgreSQL store
// loads, has a bundle and code cache of its own, dist/cli/pg.cjs (scripts/bundle-pg.mjs), that bin/box-qc.js
// serves that import() from; a file-store run never reads it. The library build (dist/*.js from tsc) is
// untouched: `import ... from 'box-qc'` does not use these bundles.
import { build, transform } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePg } from './bundle-pg.mjs';
import { freshRecord, startPgStandIn } from './pg-stand-in.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'cli');
const bundle = join(outdir, 'main.cjs');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, 'dist', 'main.js') },
  outdir,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.cjs' },
  external: ['undici', 'jose', 'open', 'ora', 'pg', 'pg-native'],
  plugins: [emulatorStaysOut()],
  // The sources are ES modules, which are always strict: keep them strict in the CommonJS bundle. The helper
  // is what the lazy-builtin rewrite below calls.
  banner: { js: `"use strict";\n${lazyBuiltinHelper()}\n${importHelper()}` },
  legalComments: 'none',
  // The map follows dist/*.js's own maps (tsc) back to src/*.ts; carried through the rewrites below. File and
  // line names only, no source text: the text would add ~250 KB to the package for files it does not ship.
  sourcemap: 'external',
  sourcesContent: false,
  logLevel: 'warning',
});

// `x = require("node:crypto");` -> `x = __boxQcLazyBuiltin("node:crypto");`: the builtin is loaded on the
// first property access (every use of a named import compiles to `x.name`). `__toESM(require(...))` (default
// and namespace imports) is left as it is.
const source = readFileSync(bundle, 'utf8');
let rewritten = 0;
let lazy = source.replace(/(\b[\w$]+ = )require\("(node:[a-z_/]+)"\);/g, (_, lhs, id) => {
  rewritten += 1;
  return `${lhs}__boxQcLazyBuiltin(${JSON.stringify(id)});`;
});
if (rewritten < 10) throw new Error(`bundle: expected to make the node:* requires lazy, rewrote only ${rewritten}`);

// `import("undici")` -> `__boxQcImport("undici")`. Node 20 cannot run import() in code compiled by vm.Script
// from a code cache (the cached script loses its dynamic-import callback: "A dynamic import callback was not
// specified"), and the vm option that would supply one prints an ExperimentalWarning. So bin/box-qc.js passes
// in its own import(), which Node compiled normally; run without it (node dist/cli/main.cjs), plain import().
lazy = lazy.replace(/\bimport\(("[^"]+")\)/g, (_, id) => `__boxQcImport(${id})`);
const externals = ['undici', 'jose', 'open', 'ora', 'pg', '../emulator/index.js'];
for (const id of externals) {
  if (!lazy.includes(`__boxQcImport(${JSON.stringify(id)})`))
    throw new Error(`bundle: no import("${id}") found to route through bin/box-qc.js`);
}
// The one import() left is the helper's own fallback.
if (lazy.match(/\bimport\(/g)?.length !== 1)
  throw new Error('bundle: an import() is left that bin/box-qc.js would not route');

// Whitespace and comments out (360 KB -> 250 KB: every run reads the whole file). Names stay, so a --debug
// stack trace still says which function failed. The result must be ASCII (esbuild escapes non-ASCII in
// strings; comments, the only other place for it, are gone) because bin/box-qc.js decodes it as latin1,
// several times faster than UTF-8.
// The rewrites above only lengthen a `require(`/`import(` near the end of its line and add no line, so the
// build's map still holds for them (a column or two late on those lines); transform() composes it with its own.
const builtMap = readFileSync(`${bundle}.map`);
const withMap = `${lazy}\n//# sourceMappingURL=data:application/json;base64,${builtMap.toString('base64')}\n`;
const { code, map } = await transform(withMap, {
  minifyWhitespace: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  charset: 'ascii',
  sourcemap: 'external',
  sourcesContent: false,
  sourcefile: 'main.cjs',
});
const nonAscii = code.search(/[^\x00-\x7f]/);
if (nonAscii >= 0)
  throw new Error(
    `bundle: non-ASCII character at offset ${nonAscii}: ${JSON.stringify(code.slice(nonAscii - 40, nonAscii + 10))}`,
  );
// A linked map (dist/cli/main.cjs.map, back to src/*.ts): Node reads it only under --enable-source-maps (`node
// --enable-source-maps dist/cli/main.cjs ...`); a normal run through bin/box-qc.js never opens it (vm.Script on
// Node 20 ignores the comment altogether), so start-up pays for the comment's 34 bytes only. For stack traces
// into src/ from the box-qc command itself, BOX_QC_UNBUNDLED=1 (bin/box-qc.js).
writeFileSync(bundle, `${code}//# sourceMappingURL=main.cjs.map\n`);
writeFileSync(`${bundle}.map`, map);
await bundlePg(join(outdir, 'pg.cjs'));

// The code cache: runs of the bundle with BOX_QC_WRITE_CODE_CACHE set, after each of which bin/box-qc.js writes
// V8's cache of the bundle (every function compiled in that run, those loaded from the previous cache included)
// on exit. First a forced refresh of one user against a stand-in token endpoint on 127.0.0.1: the path cron pays
// for most (refresh, token, ls share it: config, the store's reads, locks, reservation and commits, the HTTP
// client). Then `status --json` on an empty store, which starts from that cache and adds its own functions.
// Measured (issue 20): a cache made by `status --json` alone left a refresh compiling ~10-16 ms of functions on
// every run, and one made by the refresh alone cost `status` ~3 ms. The cache is an optimisation (bin/box-qc.js
// runs without one), so a refresh run that cannot work here (no loopback network, fsyncs of seconds: review of
// issue 20) only warns; the status run needs neither. V8 rejects a cache made by another Node version or with
// other flags; bin/box-qc.js then compiles as usual.
const BOX_QC = join(root, 'bin', 'box-qc.js');
const CACHE_RUN_MS = 60_000;
const trained = await refreshForCache().catch((err) => ({ code: -1, stderr: err.message }));
if (trained.code !== 0) {
  console.warn(
    `bundle: warning: the code-cache refresh run failed (${trained.code === -1 ? 'error' : `exit ${trained.code}`}): ${trained.stderr.trim().split('\n')[0]}; the cache covers status only`,
  );
}
const postgres = await postgresForCache().catch((err) => ({ code: -1, stderr: err.message }));
if (postgres.code !== 0) {
  console.warn(
    `bundle: warning: the code-cache PostgreSQL run failed (${postgres.code === -1 ? 'error' : `exit ${postgres.code}`}): ${postgres.stderr.trim().split('\n')[0]}; the cache lacks the PostgreSQL read path`,
  );
}
{
  const home = mkdtempSync(join(tmpdir(), 'boxqc-build-'));
  try {
    const env = { PATH: process.env.PATH, HOME: home, BOX_QC_STORE: join(home, 'none', 'tokens.json') };
    const r = await runForCache(['status', '--json'], env);
    if (r.code !== 0) throw new Error(`bundle: the code-cache run failed (exit ${r.code}): ${r.stderr}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The bundle run once with BOX_QC_WRITE_CODE_CACHE, killed after CACHE_RUN_MS. */
function runForCache(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BOX_QC, ...args], {
      env: { ...env, BOX_QC_WRITE_CODE_CACHE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CACHE_RUN_MS);
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr: signal ? `killed by ${signal} after ${CACHE_RUN_MS} ms` : stderr });
    });
  });
}

async function refreshForCache() {
  const home = mkdtempSync(join(tmpdir(), 'boxqc-build-'));
  const token = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: 'A'.repeat(32),
          refresh_token: 'R'.repeat(64),
          expires_in: 3600,
          token_type: 'bearer',
          restricted_to: [],
        }),
      );
    });
  });
  try {
    await new Promise((resolve, reject) => {
      token.once('error', reject);
      token.listen(0, '127.0.0.1', resolve);
    });
    const store = join(home, 'store', 'tokens.json');
    mkdirSync(join(home, 'store'), { mode: 0o700 });
    const at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const user = {
      access_token: 'a'.repeat(32),
      refresh_token: 'r'.repeat(64),
      access_token_expires_at: at,
      connected_at: at,
      updated_at: at,
      box_user_login: 'cache@example.com',
    };
    writeFileSync(store, `${JSON.stringify({ version: 1, users: { 'cache@example.com': user } }, null, 2)}\n`, {
      mode: 0o600,
    });
    return await runForCache(['refresh', '--email', 'cache@example.com', '--force'], {
      PATH: process.env.PATH,
      HOME: home,
      BOX_QC_STORE: store,
      BOX_CLIENT_ID: 'code-cache-client',
      BOX_CLIENT_SECRET: 'code-cache-secret',
      BOX_API_BASE_URL: `http://127.0.0.1:${token.address().port}`,
    });
  } finally {
    token.close();
    rmSync(home, { recursive: true, force: true });
  }
}

// `token --email E` and `status --json --email E` on a PostgreSQL store, served by scripts/pg-stand-in.mjs: the
// path of every PostgreSQL command (the driver's connect and query, the store's one-user read).
async function postgresForCache() {
  const home = mkdtempSync(join(tmpdir(), 'boxqc-build-'));
  const standIn = await startPgStandIn(freshRecord('cache@example.com'));
  try {
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      BOX_QC_STORE: standIn.url,
      BOX_CLIENT_ID: 'code-cache-client',
      BOX_CLIENT_SECRET: 'code-cache-secret',
    };
    const token = await runForCache(['token', '--email', 'cache@example.com'], env);
    if (token.code !== 0) return token;
    return await runForCache(['status', '--json', '--email', 'cache@example.com'], env);
  } finally {
    standIn.close();
    rmSync(home, { recursive: true, force: true });
  }
}

// The emulator (`box-qc emulator`, a development tool) is loaded with import() from the tsc output next to the
// bundle instead of being inlined: a fifth of the bundle that no production run needs to read or deserialize.
function emulatorStaysOut() {
  return {
    name: 'emulator-stays-out',
    setup(b) {
      b.onResolve({ filter: /\/emulator\/index\.js$/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        // From dist/cli/main.cjs, as from dist/commands/emulator.js: dist/emulator/index.js.
        return { path: '../emulator/index.js', external: true };
      });
    },
  };
}

function importHelper() {
  // __boxQcImportHook is a parameter of the function bin/box-qc.js wraps the bundle in; typeof is safe on an
  // undeclared name when the bundle runs on its own.
  return 'var __boxQcImport = typeof __boxQcImportHook === "function" ? __boxQcImportHook : (id) => import(id);';
}

function lazyBuiltinHelper() {
  return `var __boxQcLazyBuiltin = (id) => {
  let mod;
  const load = () => (mod ??= require(id));
  return new Proxy({}, {
    get: (_, key) => load()[key],
    set: (_, key, value) => ((load()[key] = value), true),
    has: (_, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      return d && { ...d, configurable: true };
    },
  });
};`;
}
