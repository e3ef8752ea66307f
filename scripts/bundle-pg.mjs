// dist/cli/pg.cjs: the `pg` driver as one CommonJS file, which bin/box-qc.js compiles with its own V8 code cache
// (pg.cjs.cache) and hands to the CLI bundle's import('pg'); and the load-time costs of pg that a Node process
// never needs, taken out at build time. Why (issue 20, the PostgreSQL lock storm: 32 `token` processes at once,
// CPU-bound on start-up): loading pg 8 from node_modules cost ~45-70 ms of the ~180 ms of CPU a PostgreSQL
// `token` or `status --email` run took, against ~55 ms for a whole `box-qc --version`:
//   - ~30 ms: pg/lib/stream.js asks at load time whether it runs in a Cloudflare Worker by constructing a
//     `Response`, which on Node 20 loads and compiles Node's whole fetch implementation (its internal undici)
//     for an answer that is always "no" here;
//   - ~6 ms: pg/lib/crypto/utils.js loads node:crypto and Web Crypto at load time, used only for password
//     authentication (SCRAM, MD5); pg/lib/connection-parameters.js loads node:dns, used only to resolve a
//     libpq-style `host`; both are loaded on first use instead;
//   - the rest: resolving, reading and compiling ~40 files, which one file and its code cache replace.
// A separate file rather than inside dist/cli/main.cjs: in the main bundle pg made every run deserialize a
// bigger code cache, file-store runs and `--version` included (+3-5 ms each).
// Each patch names the exact text it replaces and the build fails when that text is not found once, so a pg
// upgrade that changes those files is noticed at build time rather than silently left slow or half-patched.
// Nothing else in pg changes, and the library build (dist/*.js, `import ... from 'box-qc'`) imports the
// installed pg as it is.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** `from` must occur exactly once in the file; it becomes `to`. */
const PATCHES = [
  {
    file: 'pg/lib/stream.js',
    replace: [
      {
        // The whole test, Node's answer to it inlined: this bundle runs only on Node (esbuild platform node).
        from: 'function getStreamFuncs() {\n  if (isCloudflareRuntime()) {',
        to: 'function getStreamFuncs() {\n  if (false) {',
      },
    ],
  },
  {
    file: 'pg/lib/crypto/utils.js',
    replace: [
      {
        from: "const nodeCrypto = require('crypto')\n",
        to: `${lazyObject()}\nconst nodeCrypto = lazyObject(() => require('crypto'))\n`,
      },
      {
        from: 'const webCrypto = nodeCrypto.webcrypto || globalThis.crypto\n',
        to: 'const webCrypto = lazyObject(() => nodeCrypto.webcrypto || globalThis.crypto)\n',
      },
      {
        from: 'const subtleCrypto = webCrypto.subtle\n',
        to: 'const subtleCrypto = lazyObject(() => webCrypto.subtle)\n',
      },
    ],
  },
  {
    file: 'pg/lib/connection-parameters.js',
    replace: [
      { from: "const dns = require('dns')\n", to: `${lazyObject()}\nconst dns = lazyObject(() => require('dns'))\n` },
    ],
  },
];

/**
 * An object that loads on its first property read. Methods come back bound to the real object: Web Crypto's
 * methods throw "Illegal invocation" when called on anything else.
 */
function lazyObject() {
  return `function lazyObject(load) {
  let real;
  const get = () => (real ??= load());
  return new Proxy({}, {
    get: (_, key) => {
      const target = get();
      const value = target[key];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}`;
}

/**
 * `source` (the text of `path`, a file of the installed pg) with its patches applied; undefined when no patch is
 * for that file. Throws when a patch's text is not found exactly once.
 */
export function patchPgSource(path, source) {
  const patch = PATCHES.find((p) => path.replaceAll('\\', '/').endsWith(`/node_modules/${p.file}`));
  if (!patch) return undefined;
  let patched = source;
  for (const { from, to } of patch.replace) {
    const at = patched.indexOf(from);
    if (at < 0 || patched.indexOf(from, at + 1) >= 0)
      throw new Error(
        `bundle: ${patch.file} changed (pg upgraded?): ${JSON.stringify(from.slice(0, 50))} not found exactly once; review scripts/bundle-pg.mjs`,
      );
    patched = patched.slice(0, at) + to + patched.slice(at + from.length);
  }
  return patched;
}

/** The files PATCHES change, as paths under node_modules. */
export const PATCHED_PG_FILES = PATCHES.map((p) => p.file);

/** The esbuild plugin that applies PATCHES; fails the build if one does not apply or its file is not bundled. */
function pgPatches() {
  const applied = new Set();
  return {
    name: 'pg-patches',
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/].*\.js$/ }, (args) => {
        const contents = patchPgSource(args.path, readFileSync(args.path, 'utf8'));
        if (contents === undefined) return undefined;
        applied.add(PATCHES.find((p) => args.path.replaceAll('\\', '/').endsWith(`/node_modules/${p.file}`)).file);
        return { contents, loader: 'js' };
      });
      b.onEnd((result) => {
        if (result.errors.length) return;
        const missing = PATCHED_PG_FILES.filter((f) => !applied.has(f));
        if (missing.length) throw new Error(`bundle: pg files not bundled, so not patched: ${missing.join(', ')}`);
      });
    },
  };
}

/** Writes `outfile` (and its .map): pg and its dependencies, patched, whitespace out, ASCII only. */
export async function bundlePg(outfile) {
  await build({
    entryPoints: [createRequire(import.meta.url).resolve('pg')],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // pg's optional libpq binding, required only by `pg.native`, which box-qc never reads.
    external: ['pg-native'],
    plugins: [pgPatches()],
    minifyWhitespace: true,
    // bin/box-qc.js decodes the file as latin1, as it does the main bundle.
    charset: 'ascii',
    legalComments: 'none',
    sourcemap: 'external',
    sourcesContent: false,
    logLevel: 'warning',
  });
  const code = readFileSync(outfile, 'latin1');
  const nonAscii = code.search(/[^\x00-\x7f]/);
  if (nonAscii >= 0) throw new Error(`bundle: non-ASCII character in ${outfile} at offset ${nonAscii}`);
}
