#!/usr/bin/env -S node --
// `node --`: Node itself scans the whole command line, script arguments included, for `--env-file` and
// exits 9 on a missing or unreadable file before any JavaScript runs (nodejs/node#54232); `--` ends that
// scan, so box-qc's own --env-file (src/env-file.ts) answers: exit 2, one line, JSON under --json.
// The box-qc command. CommonJS on purpose (bin/package.json): Node starts faster for a CommonJS entry than for
// an ES module, and start-up is what a cron job pays on every run (issue 2, bench/startup).
//
// Runs the bundled CLI, dist/cli/main.cjs (built by `npm run build`, see scripts/bundle.mjs), compiled with the
// V8 code cache stored next to it so that V8 neither parses nor compiles it again; or the plain tsc output,
// dist/main.js, when the bundle is missing, or in a checkout (src/ present) when it is older than dist/main.js
// (someone ran tsc alone): a stale bundle must never run. An installed package has no src/ and nobody runs tsc
// in it; its files' times are those of unpacking, in the tarball's order (dist/main.js after dist/cli/), so
// there they say nothing about staleness. BOX_QC_UNBUNDLED=1 (a development switch, README "Development")
// runs dist/main.js with source maps on, so that a --debug stack trace names src/*.ts lines rather than the
// bundle's.
'use strict';
const {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { basename, dirname, join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
const bundleDir = join(dist, 'cli');
const bundle = join(bundleDir, 'main.cjs');
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

const bundleTime = mtime(bundle);
const unbundled = process.env.BOX_QC_UNBUNDLED === '1';
const checkout = existsSync(join(__dirname, '..', 'src'));
if (unbundled || bundleTime < 0 || (checkout && bundleTime < mtime(join(dist, 'main.js')))) {
  // Source maps (tsc's dist/**/*.js.map, back to src/) must be on before the first module loads; the same as
  // node --enable-source-maps, which a `#!/usr/bin/env node` line cannot pass.
  if (unbundled) process.setSourceMapsEnabled(true);
  const { pathToFileURL } = require('node:url');
  const main = pathToFileURL(join(dist, 'main.js')).href;
  import(main).catch((err) => {
    // dist/main.js itself missing (a checkout where `npm run build` never ran): one line. Anything else that fails
    // while its modules load is a developer's error and keeps its whole stack.
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && err.url === main)
      process.stderr.write(`error: box-qc cannot start: ${join(dist, 'main.js')} is missing (run npm run build)\n`);
    else process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
} else {
  runBundle();
}

function runBundle() {
  const vm = require('node:vm');
  // Compiles one bundle with the V8 code cache stored next to it and returns its function. latin1: the bundles
  // are ASCII (scripts/bundle.mjs checks), and latin1 decodes several times faster than UTF-8. The script's
  // name is the same everywhere (box-qc/dist/cli/...): V8 keeps the name a cache was made under, so a real
  // path would show the build machine's folder in every installed user's stack traces.
  const compile = (file, params, bytes = readFileSync(file)) => {
    const cacheFile = `${file}.cache`;
    // No cache, a damaged one, or one made for another wrapper of the bundle: V8 compiles as usual.
    const key = [Buffer.from(`${params}\n`, 'latin1'), bytes];
    const cachedData = readCodeCache(cacheFile, key);
    const wrapper = `(function (${params}) {${bytes.toString('latin1')}\n})`;
    // A cache made by another Node version or with other V8 flags is rejected by V8, which then compiles.
    const script = new vm.Script(wrapper, { filename: `box-qc/dist/cli/${basename(file)}`, cachedData });
    // A development switch (README "Development"): whether the cache was used, on stderr.
    if (process.env.BOX_QC_DEBUG_CODE_CACHE === '1')
      process.stderr.write(
        `code cache ${basename(cacheFile)}: ${cachedData === undefined ? 'not used' : script.cachedDataRejected ? 'rejected by V8' : 'used'}\n`,
      );
    if (process.env.BOX_QC_WRITE_CODE_CACHE) {
      // Set by scripts/bundle.mjs: record the cache after the run, when the functions it used are compiled. The
      // cache is an optimisation: a write that fails (a read-only install, runs at once) is skipped quietly.
      process.once('exit', () => {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        try {
          writeFileSync(tmp, sealCodeCache(script.createCachedData(), key));
          renameSync(tmp, cacheFile);
        } catch {
          rmSync(tmp, { force: true, recursive: true });
        }
      });
    }
    return script.runInThisContext();
  };
  // The pg driver's own bundle (scripts/bundle-pg.mjs), for the first import('pg') of a run on a PostgreSQL
  // store, while every package inside it is the version installed (its first line lists them); otherwise
  // (missing, broken, or pg or one of its dependencies updated without a rebuild: a security fix must not be held
  // back by an old copy) the installed pg itself.
  const pgBundle = join(bundleDir, 'pg.cjs');
  let pg;
  const bundledPg = () => {
    try {
      const bytes = readFileSync(pgBundle);
      const manifest = /^\/\* pg\.cjs (\[.*\]) \*\/\n/.exec(bytes.toString('latin1', 0, bytes.indexOf(10) + 1));
      if (!manifest || !installedAsBundled(JSON.parse(manifest[1]))) return undefined;
      const module = { exports: {}, filename: pgBundle, id: pgBundle };
      compile(pgBundle, 'exports, require, module, __filename, __dirname', bytes)(
        module.exports,
        require,
        module,
        pgBundle,
        bundleDir,
      );
      return { default: module.exports };
    } catch {
      return undefined;
    }
  };
  // import() in code from a cached vm.Script has no loader on Node 20, so the bundle's import()s come here.
  // Relative specifiers (the emulator) are relative to the bundle; packages resolve the same from bin/.
  const importHook = (specifier) => {
    // A builtin (node:http for the Box POST) comes from process.getBuiltinModule, Node >= 20.16: import()
    // would first set up Node's ES module loader, ~2.5 ms of a one-user refresh (issue 20). Shaped as the
    // namespace import() gives: its named exports and `default`, the module object itself.
    if (specifier.startsWith('node:') && typeof process.getBuiltinModule === 'function') {
      const builtin = process.getBuiltinModule(specifier);
      if (builtin !== undefined) return Promise.resolve({ ...builtin, default: builtin });
    }
    // Decided once: a copy that failed its check or its load is not tried again.
    if (specifier === 'pg') return Promise.resolve().then(() => (pg ??= bundledPg() ?? import('pg')));
    return import(
      specifier.startsWith('.') ? require('node:url').pathToFileURL(join(bundleDir, specifier)).href : specifier
    );
  };
  const module = { exports: {}, filename: bundle, id: bundle };
  // The bundles only require() node:* builtins (and pg-native, which box-qc never loads), so this module's
  // require serves them.
  compile(bundle, 'exports, require, module, __filename, __dirname, __boxQcImportHook')(
    module.exports,
    require,
    module,
    bundle,
    bundleDir,
    importHook,
  );
}

/**
 * A code cache as box-qc writes it: the wrapper it was made for (the parameter list, a newline, the bundle's
 * bytes), V8's data twice, then the two lengths and "bqc3" (4 bytes each). V8 checks a cache's header (its
 * version, flags and the source's length, not its text) but not its payload: a damaged payload aborts the process
 * (V8_Fatal "unreachable code", exit 133), and a cache of another source of the same length runs that source's
 * code or crashes (SIGSEGV), before any of box-qc runs. So a cache is used only when it names exactly this
 * wrapper and its two copies of the data agree: damage to either copy, or to one more than the other, makes it
 * unused (the same damage to both, which no disk or copy error makes, would still reach V8). Compared, not
 * hashed: Buffer#equals is a native memcmp, ~0.5 ms per start for the extra bytes read, where a hash of the same
 * bytes in JavaScript (run once, so interpreted) cost ~3 ms and loading node:crypto or node:zlib 2.5-5 ms.
 */
function codeCacheMagic() {
  // "bqc3", little-endian. A function: the bundle runs (above) before a const here would be initialised.
  return 0x33637162;
}

/** V8's data for a bundle of a few MB is well under this; anything larger is not a cache box-qc wrote. */
function maxCodeCacheData() {
  return 64 * 1024 * 1024;
}

/** The bytes of a cache's key: its parts one after another. */
function keyLength(key) {
  return key.reduce((n, part) => n + part.length, 0);
}

function readCodeCache(file, key) {
  const length = keyLength(key);
  let raw;
  let fd;
  try {
    // Non-blocking, and only a regular file of a plausible size: a FIFO or a huge file there must not hold up
    // every command.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > length + 2 * maxCodeCacheData() + 12) return undefined;
    raw = readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const end = raw.length - 12;
  if (end < 0 || raw.readUInt32LE(end + 8) !== codeCacheMagic()) return undefined;
  const [storedKey, dataLength] = [raw.readUInt32LE(end), raw.readUInt32LE(end + 4)];
  if (storedKey !== length || length + 2 * dataLength !== end) return undefined;
  let at = 0;
  for (const part of key) {
    if (!raw.subarray(at, at + part.length).equals(part)) return undefined;
    at += part.length;
  }
  const data = raw.subarray(length, length + dataLength);
  return data.equals(raw.subarray(length + dataLength, end)) ? data : undefined;
}

function sealCodeCache(data, key) {
  const trailer = Buffer.alloc(12);
  trailer.writeUInt32LE(keyLength(key), 0);
  trailer.writeUInt32LE(data.length, 4);
  trailer.writeUInt32LE(codeCacheMagic(), 8);
  return Buffer.concat([...key, data, data, trailer]);
}

/**
 * Whether each [name, version, requiredBy] of pg.cjs's list (one entry per package that requires it) is installed
 * at that version, found as Node would find it: node_modules folders from the requirer's real folder up
 * (box-qc's own for ""). Package files are read directly: require.resolve() costs a PostgreSQL run ~3 ms,
 * reading them ~0.1 ms each.
 */
function installedAsBundled(packages) {
  const dirs = new Map([['', join(__dirname, '..')]]);
  for (const [name, version, requiredBy] of packages) {
    const from = dirs.get(requiredBy);
    if (from === undefined) return false;
    const found = findPackage(name, from);
    if (found === undefined || found.version !== version) return false;
    if (dirs.has(name) && dirs.get(name) !== found.dir) return false; // two copies: not the bundle's layout
    dirs.set(name, found.dir);
  }
  return true;
}

function findPackage(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name);
      let text;
      try {
        text = readFileSync(join(candidate, 'package.json'), 'utf8');
      } catch (err) {
        // Not here: the next folder up. Anything else (unreadable) is where Node would stop too.
        if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') return undefined;
      }
      // Its real folder, as Node searches from (pnpm and linked packages are symlinks).
      if (text !== undefined) return { dir: realpathSync(candidate), version: JSON.parse(text).version };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
