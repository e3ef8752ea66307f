/**
 * What bin/box-qc.js runs (issue 20 review): the bundle in an installed package whatever its files' times (npm
 * unpacks dist/main.js after dist/cli/, so it looks newer there), tsc's output in a checkout whose bundle is
 * older than dist/main.js; the pg bundle only while it holds the pg version installed; and a code-cache write
 * that fails is quiet. Each case runs the real bin/ and dist/ from a copy laid out like an installed package.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { freshRecord, startPgStandIn } from '../../scripts/pg-stand-in.mjs';
import { requireBuild } from '../helpers/store-procs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const start = startPgStandIn as (record: object) => Promise<{ url: string; close(): void }>;
const fresh = freshRecord as (login: string) => object;

beforeAll(requireBuild);
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * bin/, dist/ and package.json copied; node_modules links to the project's, except the packages in `bump`: real
 * copies, with that version in their package.json.
 */
function installedCopy(opts: { bump?: Record<string, string>; checkout?: boolean; mainNewer?: boolean } = {}): string {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-bin-choice-'));
  const pkg = join(dir, 'box-qc');
  for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(pkg, part), { recursive: true });
  if (opts.checkout) mkdirSync(join(pkg, 'src'));
  mkdirSync(join(pkg, 'node_modules'));
  const bump = opts.bump ?? {};
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name in bump) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  for (const [name, version] of Object.entries(bump)) {
    cpSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name), { recursive: true, dereference: true });
    const manifest = join(pkg, 'node_modules', name, 'package.json');
    writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), version }));
  }
  // As npm leaves an installed package: dist/main.js unpacked after the bundle (unless mainNewer is false).
  const when = new Date(Date.now() + (opts.mainNewer === false ? -60_000 : 60_000));
  utimesSync(join(pkg, 'dist', 'main.js'), when, when);
  return pkg;
}

function run(pkg: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--', join(pkg, 'bin', 'box-qc.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `status --debug` on a store path that is a folder: exit 2 and a stack trace that names what ran. */
async function traceOf(pkg: string): Promise<string> {
  mkdirSync(join(dir, 'store-is-a-folder'));
  const r = await run(pkg, ['status', '--debug'], { BOX_QC_STORE: join(dir, 'store-is-a-folder') });
  expect(r.code, r.stderr).toBe(2);
  return r.stderr;
}

describe('bin/box-qc.js', () => {
  it('runs the bundle in an installed package even though dist/main.js looks newer', async () => {
    const pkg = installedCopy();
    const trace = await traceOf(pkg);
    expect(trace).toContain('box-qc/dist/cli/main.cjs');
    // The code cache was made in this checkout: its folder must not show in an installed package's traces.
    expect(trace).not.toContain(ROOT);
  });

  it('runs tsc output instead of an older bundle in a checkout (src/ present)', async () => {
    const pkg = installedCopy({ checkout: true });
    const trace = await traceOf(pkg);
    expect(trace).not.toContain('main.cjs');
    expect(trace).toContain(join('dist', 'core', 'store'));
  });

  it('loads the installed pg, not its own copy, when pg or a package inside the copy is another version', async () => {
    const standIn = await start(fresh('cache@example.com'));
    try {
      const recorder = join(tmpdir(), `boxqc-record-${process.pid}.cjs`);
      writeFileSync(
        recorder,
        `process.on('exit', () => require('node:fs').writeFileSync(process.env.RECORD_TO, JSON.stringify(Object.keys(require.cache))));\n`,
      );
      const loaded = async (pkg: string) => {
        const out = join(dir, 'loaded.json');
        const r = await run(pkg, ['token', '--email', 'cache@example.com'], {
          BOX_QC_STORE: standIn.url,
          BOX_CLIENT_ID: 'id',
          BOX_CLIENT_SECRET: 'secret',
          NODE_OPTIONS: `--require ${recorder}`,
          RECORD_TO: out,
        });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.trim()).toBe('a'.repeat(32));
        return (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((f) => f.includes('/node_modules/pg/lib/'));
      };
      const same = installedCopy();
      expect(await loaded(same)).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
      const upgraded = installedCopy({ bump: { pg: '8.99.0' } });
      expect(await loaded(upgraded)).toContain(join(upgraded, 'node_modules', 'pg', 'lib', 'index.js'));
      rmSync(dir, { recursive: true, force: true });
      // pg a real copy (its own version), so that Node resolves pg-protocol from inside this layout.
      const pgVersion = (
        JSON.parse(readFileSync(join(ROOT, 'node_modules', 'pg', 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
      const protocol = installedCopy({ bump: { pg: pgVersion, 'pg-protocol': '1.99.0' } });
      expect((await loaded(protocol)).length).toBeGreaterThan(0);
      rmSync(dir, { recursive: true, force: true });
      // A copy whose list matches but whose code does not load: the installed pg, not a failed command.
      const broken = installedCopy();
      const pgCjs = join(broken, 'dist', 'cli', 'pg.cjs');
      writeFileSync(pgCjs, `${readFileSync(pgCjs, 'latin1').split('\n')[0]}\n}}} not JavaScript\n`);
      expect((await loaded(broken)).length).toBeGreaterThan(0);
      rmSync(dir, { recursive: true, force: true });
      // pnpm's layout: node_modules/pg is a link into a store, beside the pg-protocol pg really loads (another
      // version), while a hoisted pg-protocol of the bundled version sits in box-qc's node_modules.
      const linked = installedCopy();
      const store = join(dir, 'store', 'pg@x', 'node_modules');
      mkdirSync(store, { recursive: true });
      for (const name of readdirSync(join(ROOT, 'node_modules')))
        if (name !== 'pg' && name !== 'pg-protocol') symlinkSync(join(ROOT, 'node_modules', name), join(store, name));
      cpSync(join(ROOT, 'node_modules', 'pg'), join(store, 'pg'), { recursive: true, dereference: true });
      cpSync(join(ROOT, 'node_modules', 'pg-protocol'), join(store, 'pg-protocol'), {
        recursive: true,
        dereference: true,
      });
      const protocolManifest = join(store, 'pg-protocol', 'package.json');
      writeFileSync(
        protocolManifest,
        JSON.stringify({ ...JSON.parse(readFileSync(protocolManifest, 'utf8')), version: '1.99.0' }),
      );
      rmSync(join(linked, 'node_modules', 'pg'));
      symlinkSync(join(store, 'pg'), join(linked, 'node_modules', 'pg'));
      expect(await loaded(linked)).toContain(join(store, 'pg', 'lib', 'index.js'));
      rmSync(recorder, { force: true });
    } finally {
      standIn.close();
    }
  }, 60_000);

  it('says in one line that dist/ is missing in a checkout that was never built', async () => {
    const pkg = installedCopy({ checkout: true });
    rmSync(join(pkg, 'dist'), { recursive: true });
    const r = await run(pkg, ['--version']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: box-qc cannot start: .*dist[/\\]main\.js is missing \(run npm run build\)\n$/);
  });

  it('uses the code cache the build wrote, and ignores a damaged one (V8 would abort reading it)', async () => {
    const pkg = installedCopy({ mainNewer: false });
    const cli = join(pkg, 'dist', 'cli');
    const debug = { BOX_QC_DEBUG_CODE_CACHE: '1' };
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const good = await run(pkg, ['--version'], debug);
    expect(good.stderr).toBe('code cache main.cjs.cache: used\n');
    const original = readFileSync(join(cli, 'main.cjs.cache'));
    const damaged = (edit: (cache: Buffer) => void) => {
      const cache = Buffer.from(original);
      edit(cache);
      writeFileSync(join(cli, 'main.cjs.cache'), cache);
    };
    const middle = ((original.length - 8) >> 1) & ~3;
    const cases: [string, (cache: Buffer) => void][] = [
      // Bytes flipped in the middle (a bad disk block): V8's header still matches.
      ['64 bytes flipped', (c) => Array.from({ length: 64 }, (_, i) => (c[middle + i]! ^= 0xff))],
      // The top bit of two words (a hash that only carries upwards misses this).
      ['two top bits', (c) => [0, 1].forEach((w) => (c[middle + 4 * w + 3]! ^= 0x80))],
      // The top byte of 64 words.
      ['64 top bytes', (c) => Array.from({ length: 64 }, (_, w) => (c[middle + 4 * w + 3]! ^= 0x5a))],
      ['overwritten after 1,000 bytes', (c) => c.fill(0x20, 1000)],
    ];
    for (const [what, edit] of cases) {
      damaged(edit);
      const r = await run(pkg, ['--version'], debug);
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(version);
      expect(r.stderr, what).toBe('code cache main.cjs.cache: not used\n');
    }
    writeFileSync(join(cli, 'main.cjs.cache'), original.subarray(0, 1000));
    expect((await run(pkg, ['--version'])).code).toBe(0);
    // A bundle edited in place to the same length (V8 checks only the length): its cache is not the bundle's.
    writeFileSync(join(cli, 'main.cjs.cache'), original);
    const bundle = readFileSync(join(cli, 'main.cjs'), 'latin1');
    const other = version.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    expect(bundle).toContain(`"${version}"`);
    writeFileSync(join(cli, 'main.cjs'), bundle.replace(`"${version}"`, `"${other}"`), 'latin1');
    const edited = await run(pkg, ['--version'], debug);
    expect(edited.stdout.trim()).toBe(other);
    expect(edited.stderr).toBe('code cache main.cjs.cache: not used\n');
    // The same bundle wrapped with other parameters (bin/ edited, not rebuilt): V8 sees the same length.
    const binPath = join(pkg, 'bin', 'box-qc.js');
    const bin = readFileSync(binPath, 'utf8');
    writeFileSync(join(cli, 'main.cjs'), bundle, 'latin1');
    const params = "'exports, require, module, __filename, __dirname, __boxQcImportHook'";
    expect(bin).toContain(params);
    writeFileSync(binPath, bin.replace(params, "'exports, require, module, __dirname, __filename, __boxQcImportHook'"));
    const rewrapped = await run(pkg, ['--version'], debug);
    expect(rewrapped.stderr.split('\n')[0]).toBe('code cache main.cjs.cache: not used');
    writeFileSync(binPath, bin);
    // A FIFO in its place (opening one for reading waits for a writer) is passed over.
    writeFileSync(join(cli, 'main.cjs'), bundle, 'latin1');
    rmSync(join(cli, 'main.cjs.cache'));
    execFileSync('mkfifo', [join(cli, 'main.cjs.cache')]);
    const fifo = await run(pkg, ['--version'], debug);
    expect(fifo.stderr).toBe('code cache main.cjs.cache: not used\n');
    expect(fifo.stdout.trim()).toBe(version);
  }, 60_000);

  it('ignores a damaged cache of the pg bundle: a PostgreSQL run still works', async () => {
    const pkg = installedCopy({ mainNewer: false });
    const cache = join(pkg, 'dist', 'cli', 'pg.cjs.cache');
    const bytes = readFileSync(cache);
    bytes.fill(0, bytes.length >> 1, (bytes.length >> 1) + 64);
    writeFileSync(cache, bytes);
    const standIn = await start(fresh('cache@example.com'));
    try {
      const r = await run(pkg, ['status', '--json'], { BOX_QC_STORE: standIn.url, BOX_QC_DEBUG_CODE_CACHE: '1' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('code cache pg.cjs.cache: not used');
    } finally {
      standIn.close();
    }
  }, 60_000);

  it('skips a code-cache write that fails, quietly (BOX_QC_WRITE_CODE_CACHE)', async () => {
    const pkg = installedCopy({ mainNewer: false });
    const cli = join(pkg, 'dist', 'cli');
    // Nothing can be written where the cache goes: a folder stands at the final name.
    rmSync(join(cli, 'main.cjs.cache'));
    mkdirSync(join(cli, 'main.cjs.cache'));
    writeFileSync(join(cli, 'main.cjs.cache', 'keep'), '');
    const r = await run(pkg, ['--version'], { BOX_QC_WRITE_CODE_CACHE: '1' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(readdirSync(cli).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
