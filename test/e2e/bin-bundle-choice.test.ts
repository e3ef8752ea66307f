/**
 * What bin/box-qc.js runs (issue 20 review): the bundle in an installed package whatever its files' times (npm
 * unpacks dist/main.js after dist/cli/, so it looks newer there), tsc's output in a checkout whose bundle is
 * older than dist/main.js; the pg bundle only while it holds the pg version installed; and a code-cache write
 * that fails is quiet. Each case runs the real bin/ and dist/ from a copy laid out like an installed package.
 */
import { spawn } from 'node:child_process';
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

  it('ignores a damaged code cache (V8 would abort reading it): the bundle compiles and the command runs', async () => {
    const pkg = installedCopy({ mainNewer: false });
    const cli = join(pkg, 'dist', 'cli');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const name of ['main.cjs.cache', 'pg.cjs.cache']) {
      const cache = readFileSync(join(cli, name));
      // Bytes flipped in the middle (a bad disk block, a copy cut short and patched): the header still matches.
      for (let i = cache.length >> 1; i < (cache.length >> 1) + 64; i++) cache[i]! ^= 0xff;
      writeFileSync(join(cli, name), cache);
    }
    const r = await run(pkg, ['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    // Cut short, and a cache of another build's length.
    writeFileSync(
      join(cli, 'main.cjs.cache'),
      readFileSync(join(ROOT, 'dist', 'cli', 'main.cjs.cache')).subarray(0, 1000),
    );
    const short = await run(pkg, ['--version']);
    expect(short.code, short.stderr).toBe(0);
    // A PostgreSQL run loads pg.cjs with its damaged cache.
    const standIn = await start(fresh('cache@example.com'));
    try {
      const pgRun = await run(pkg, ['status', '--json'], { BOX_QC_STORE: standIn.url });
      expect(pgRun.code, pgRun.stderr).toBe(0);
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
