/**
 * T8/T9 permissions and symlinks as a normal user (reliability.md section 8; issue 7): root ignores file
 * modes, so these run box-qc under `setpriv --reuid=65534 --regid=65534 --clear-groups` in a folder that
 * uid owns. umask 000 still gives a 0700 folder and a 0600 store, and strace shows the temp and lock files
 * created O_EXCL with mode 0600; a 0644 store is tightened with a warning; a store owned by another uid is
 * refused; a symlink planted at the store or at a lock path is never followed. Skipped (with the reason
 * printed) only when not root or setpriv is missing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { iso } from '../helpers/time.js';
import { DIST, startFaultLab, type FaultLab, type StartOptions } from './helpers/lab.js';
import { emptyRow, recordRow } from './helpers/ledger.js';

const NOBODY = 65534;
const SETPRIV = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const EMAIL = 'alice@example.com';
const STORE_OP = fileURLToPath(new URL('./helpers/store-op.mjs', import.meta.url));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mode = async (p: string) => (await lstat(p)).mode & 0o777;

let unavailable: string | undefined;
let lab: FaultLab;
let root: string;
const row = emptyRow('T8/T9 permissions + symlinks as uid 65534');
const problems: string[] = [];

async function whyUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: cannot switch to uid 65534';
  try {
    await promisify(execFile)('setpriv', [...SETPRIV, 'true']);
    return undefined;
  } catch (err) {
    return `setpriv unusable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

/** A fresh folder owned by uid 65534 (its HOME too), with the store folder inside it. */
async function userFolder(name: string): Promise<{ home: string; dir: string; store: string }> {
  const home = join(root, name);
  await mkdir(home, { recursive: true });
  await chown(home, NOBODY, NOBODY);
  const dir = join(home, 'box-qc');
  return { home, dir, store: join(dir, 'tokens.json') };
}

async function seedAs(dir: string, store: string, uid: number, fileMode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chown(dir, NOBODY, NOBODY);
  const p = lab.mint(EMAIL);
  const at = iso(Date.now() - 60_000);
  const doc = {
    version: 1,
    users: { [EMAIL]: { ...p, access_token_expires_at: at, connected_at: at, updated_at: at, generation: 1 } },
  };
  await writeFile(store, `${JSON.stringify(doc, null, 2)}\n`);
  await chmod(store, fileMode);
  await chown(store, uid, uid);
}

function asNobody(home: string, store: string, args: string[], extra: StartOptions = {}) {
  return lab.cli(args, {
    wrap: [...(extra.wrap ?? []), ...SETPRIV],
    env: { HOME: home, BOX_QC_STORE: store },
    ...(extra.shellPrefix ? { shellPrefix: extra.shellPrefix } : {}),
    ...(extra.script ? { script: extra.script } : {}),
  });
}

function check(cond: boolean, what: string): void {
  if (!cond) problems.push(what);
  expect(cond, what).toBe(true);
}

beforeAll(async () => {
  unavailable = await whyUnavailable();
  if (unavailable) process.stdout.write(`permissions: skipped: ${unavailable}\n`);
  root = await mkdtemp(join(tmpdir(), 'boxqc-perms-'));
  await chmod(root, 0o755);
  lab = await startFaultLab({ rotation: 'strict' });
});

afterAll(async () => {
  row.leaks = lab.leaks().length;
  row.secretsChecked = lab.secrets().size;
  row.failed = problems.length;
  row.notes = unavailable ? `skipped: ${unavailable}` : `${row.iterations} checks, ${problems.length} problem(s)`;
  recordRow(row);
  await lab.close();
  await rm(root, { recursive: true, force: true });
  expect(row.leaks).toBe(0);
});

describe('permissions as uid 65534 (T8)', () => {
  it('umask 000: a store created from nothing gets a 0700 folder and a 0600 file', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    const { home, dir, store } = await userFolder('create');
    const r = await asNobody(home, store, [DIST, store, EMAIL], { shellPrefix: 'umask 000;', script: STORE_OP });
    check(r.code === 0, `store-op succeeded\n${describeResult(r)}`);
    check((await mode(dir)) === 0o700, `folder mode 0${(await mode(dir)).toString(8)}`);
    check((await mode(store)) === 0o600, `store mode 0${(await mode(store)).toString(8)}`);
    check((await stat(store)).uid === NOBODY, 'store owned by 65534');
  });

  it('umask 000: refresh rewrites the store 0600; strace shows temp and lock files created O_EXCL, 0600', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    const { home, dir, store } = await userFolder('refresh');
    await seedAs(dir, store, NOBODY, 0o600);
    const log = join(root, 'refresh-openat.log');
    const r = await asNobody(home, store, ['refresh', '--email', EMAIL, '--force'], {
      shellPrefix: 'umask 000;',
      wrap: ['strace', '-f', '-qq', '-e', 'trace=openat,fchmod', '-o', log],
    });
    check(r.code === 0, `refresh succeeded\n${describeResult(r)}`);
    check((await mode(store)) === 0o600, `store mode 0${(await mode(store)).toString(8)}`);
    const creates = (await readFile(log, 'utf8'))
      .split('\n')
      .filter((line) => /openat\(.*\.(tmp|lock|probe|reserve)"/.test(line) && /O_CREAT/.test(line));
    check(creates.length >= 3, `saw the temp/lock creates: ${creates.length}`);
    const loose = creates.filter((line) => !/O_EXCL/.test(line) || !/0600\)/.test(line) || !/O_NOFOLLOW/.test(line));
    check(loose.length === 0, `every create is O_EXCL|O_NOFOLLOW, 0600: ${loose.join('\n')}`);
  });

  it('a 0644 store is tightened to 0600 with a warning', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    const { home, dir, store } = await userFolder('loose');
    await seedAs(dir, store, NOBODY, 0o644);
    const r = await asNobody(home, store, ['status']);
    check((await mode(store)) === 0o600, `store mode 0${(await mode(store)).toString(8)}\n${describeResult(r)}`);
    check(/tightened to 0600/.test(r.stderr), `warning printed\n${describeResult(r)}`);
  });

  it('a store owned by another uid is refused (exit 2) and left unchanged', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    const { home, dir, store } = await userFolder('foreign');
    await seedAs(dir, store, 0, 0o644);
    const before = await readFile(store);
    const r = await asNobody(home, store, ['refresh', '--email', EMAIL, '--force']);
    check(r.code === 2 && /owned by uid 0/.test(r.stderr), `refused\n${describeResult(r)}`);
    check(sha(await readFile(store)) === sha(before) && (await mode(store)) === 0o644, 'unchanged');
  });

  it('a store written by root is unreadable for uid 65534 (EACCES)', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    await lab.seed({ [EMAIL]: lab.mint(EMAIL) });
    await chmod(lab.storePath, 0o644);
    const fixed = await lab.cli(['refresh', '--email', EMAIL, '--force']);
    check(fixed.code === 0, `root refresh\n${describeResult(fixed)}`);
    await chmod(lab.root, 0o755);
    await chmod(lab.dir, 0o755);
    const r = await lab.cli([], { wrap: [...SETPRIV, 'cat', lab.storePath, '--'] });
    check(r.code !== 0 && /Permission denied/.test(r.stderr), `cat refused\n${describeResult(r)}`);
    await chmod(lab.dir, 0o700);
  });
});

describe('symlinks as uid 65534 (T9)', () => {
  it('a symlink at the store path is refused and its target untouched', async (ctx) => {
    if (unavailable) return ctx.skip();
    row.iterations += 1;
    const { home, dir, store } = await userFolder('link-store');
    await seedAs(dir, join(dir, 'real.json'), NOBODY, 0o600);
    await symlink(join(dir, 'real.json'), store);
    const before = await readFile(join(dir, 'real.json'));
    const r = await asNobody(home, store, ['refresh', '--email', EMAIL, '--force']);
    check(r.code === 2 && /symbolic link/.test(r.stderr), `refused\n${describeResult(r)}`);
    check(sha(await readFile(join(dir, 'real.json'))) === sha(before), 'target unchanged');
  });

  for (const which of ['user', 'store'] as const) {
    it(`a symlink planted at the ${which} lock path is not followed`, async (ctx) => {
      if (unavailable) return ctx.skip();
      row.iterations += 1;
      const { home, dir, store } = await userFolder(`link-${which}-lock`);
      await seedAs(dir, store, NOBODY, 0o600);
      const hash = createHash('sha256').update(EMAIL).digest('hex').slice(0, 24);
      const lockPath = join(dir, which === 'user' ? `.tokens.json.user-${hash}.lock` : '.tokens.json.lock');
      const victim = join(home, 'victim.txt');
      await writeFile(victim, 'precious\n');
      await chown(victim, NOBODY, NOBODY);
      await symlink(victim, lockPath);
      const before = await readFile(store);
      const posts = lab.emu.stats().byGrantType.refresh_token ?? 0;
      const r = await asNobody(home, store, ['refresh', '--email', EMAIL, '--force']);
      check(r.code !== 0, `refused\n${describeResult(r)}`);
      check((await readFile(victim, 'utf8')) === 'precious\n', 'victim untouched');
      check(sha(await readFile(store)) === sha(before), 'store unchanged');
      check((lab.emu.stats().byGrantType.refresh_token ?? 0) === posts, 'no refresh request sent');
    });
  }
});
