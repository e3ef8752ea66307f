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
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Each file is pinned by the SHA-256 of its text as installed (pg 8.23.1): a patch is reviewed against the whole
 * file it changes (what else in it uses the objects made lazy, and how), so any other text fails the build.
 * `from` must occur exactly once in the file; it becomes `to`.
 */
const PATCHES = [
  {
    file: 'pg/lib/stream.js',
    sha256: '0bd4001775301604ddf7c94152e05f6f30a9354876717bdae2ab636d00eb12ba',
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
    sha256: 'a849cfe22d7590d79ddee76c8d7a058e2b67360a0d76683275d34133e5637117',
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
    sha256: '6b6548f99acba3502663a17a180582ba8e1f1725aa9d94b5f47cac19dcb6211b',
    replace: [
      { from: "const dns = require('dns')\n", to: `${lazyObject()}\nconst dns = lazyObject(() => require('dns'))\n` },
    ],
  },
];

/**
 * An object that loads on its first use. Methods come back bound to the real object (Web Crypto's methods throw
 * "Illegal invocation" on any other `this`), the same bound function each time; `in` and key listing see the
 * real object's keys. pg 8.23.1 only calls methods and reads properties of these objects (the pinned hashes hold
 * that to what was reviewed).
 */
function lazyObject() {
  return `function lazyObject(load) {
  let real;
  const bound = new Map();
  const get = () => (real ??= load());
  return new Proxy({}, {
    get: (_, key) => {
      const target = get();
      const value = target[key];
      if (typeof value !== 'function') return value;
      if (!bound.has(key)) bound.set(key, value.bind(target));
      return bound.get(key);
    },
    has: (_, key) => key in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key);
      return d && { ...d, configurable: true };
    },
  });
}`;
}

/**
 * `source` (the text of `path`, a file of the installed pg) with its patches applied; undefined when no patch is
 * for that file. Throws when a patch's text is not found exactly once.
 */
export function patchPgSource(path, source) {
  const patch = patchFor(path);
  if (!patch) return undefined;
  const sha = createHash('sha256').update(source).digest('hex');
  if (sha !== patch.sha256)
    throw new Error(
      `bundle: ${patch.file} is not the text its patches were reviewed against (pg upgraded? sha256 ${sha}); review scripts/bundle-pg.mjs`,
    );
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

/** The entry of PATCHES for `path` (a file of the installed pg), if any. */
function patchFor(path) {
  return PATCHES.find((p) => path.replaceAll('\\', '/').endsWith(`/node_modules/${p.file}`));
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
        applied.add(patchFor(args.path).file);
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

/**
 * Writes `outfile` (and its .map): pg and its dependencies, patched, whitespace out, ASCII only. Its first line
 * is a comment holding every package inside, with its version and the package that requires it:
 * `/* pg.cjs [["pg","8.23.1",""],["pg-protocol","1.16.1","pg"],...] *\/`, one entry per package that requires
 * it ("" = box-qc), pg first, each after its requirer. bin/box-qc.js uses the file only while each of them is the version installed, so an
 * `npm update` of any of them (a security fix) is not held back by the copy. Nothing is written unless every
 * check passed.
 */
export async function bundlePg(outfile) {
  const require = createRequire(import.meta.url);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = await build({
    absWorkingDir: root,
    entryPoints: [require.resolve('pg')],
    outfile,
    write: false,
    metafile: true,
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
  const files = result.outputFiles;
  const code = files.find((f) => f.path === outfile);
  const map = files.find((f) => f.path === `${outfile}.map`);
  if (!code || !map || files.length !== 2) throw new Error(`bundle: esbuild did not produce ${outfile} and its map`);
  const header = `/* pg.cjs ${JSON.stringify(bundledPackages(result.metafile, root))} */\n`;
  const text = header + code.text;
  const nonAscii = text.search(/[^\x00-\x7f]/);
  if (nonAscii >= 0) throw new Error(`bundle: non-ASCII character in ${outfile} at offset ${nonAscii}`);
  // The header is one more line on top: one more (empty) line at the start of the map's mappings.
  const sourceMap = JSON.parse(map.text);
  sourceMap.mappings = `;${sourceMap.mappings}`;
  writeFileSync(outfile, text, 'latin1');
  writeFileSync(map.path, JSON.stringify(sourceMap));
}

/**
 * [name, version, requiredBy] for each package the bundle holds, once per package that requires it (so
 * bin/box-qc.js checks every resolution the bundle stands for), pg first, each after its requirer.
 */
function bundledPackages(metafile, root) {
  const packageOf = (input) => {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(input);
    return m ? { name: m[1], dir: input.slice(0, m.index + m[0].length - 1) } : undefined;
  };
  const byDir = new Map();
  const edges = new Map();
  for (const [input, info] of Object.entries(metafile.inputs)) {
    const from = packageOf(input);
    if (!from) throw new Error(`bundle: ${input} is not inside a package`);
    byDir.set(from.dir, from.name);
    for (const imp of info.imports) {
      const to = imp.external ? undefined : packageOf(imp.path);
      if (to && to.dir !== from.dir) edges.set(`${from.dir}\n${to.dir}`, [from.dir, to.dir]);
    }
  }
  const names = [...byDir.values()];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw new Error(`bundle: two copies of ${twice} in the pg bundle; bin/box-qc.js cannot check that`);
  const versionOf = (dir) => {
    const version = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).version;
    if (typeof version !== 'string' || !/^[\w.+-]+$/.test(version))
      throw new Error(`bundle: unexpected version of ${byDir.get(dir)}: ${JSON.stringify(version)}`);
    return version;
  };
  const pgDir = [...byDir].find(([, name]) => name === 'pg')?.[0];
  if (pgDir === undefined) throw new Error('bundle: pg itself is not in the bundle');
  const out = [['pg', versionOf(pgDir), '']];
  const seen = new Set([pgDir]);
  const queue = [pgDir];
  while (queue.length > 0) {
    const dir = queue.shift();
    for (const [a, b] of edges.values()) {
      if (a !== dir) continue;
      out.push([byDir.get(b), versionOf(b), byDir.get(a)]);
      if (!seen.has(b)) {
        seen.add(b);
        queue.push(b);
      }
    }
  }
  if (seen.size !== byDir.size) throw new Error('bundle: a bundled package is not reached from pg');
  return out;
}
