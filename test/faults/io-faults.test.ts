/**
 * T6 disk full and I/O errors (reliability.md section 8; issue 7).
 *  (a) the store folder on a 64 KiB tmpfs filled before the run: no refresh request reaches Box, a clear
 *      "disk full" error, the store byte-identical, nothing left behind;
 *  (b) the disk fills between Box's answer and the write (the token endpoint's latency is the window): the
 *      room for the save was reserved before the POST (issue 15 item 4: store/file/write-reserve.ts), so the new
 *      pair is saved all the same; and when space comes back within the write's retries, too;
 *  (c) strace-injected EIO on fsync and EXDEV/EACCES on rename: a failure before the rename keeps the old
 *      store; a failed folder fsync after the rename is reported "saved ..., durability unknown".
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { leftoverWorkFiles } from '../helpers/litter.js';
import { sleep, startFaultLab, type FaultLab, type Pair } from './helpers/lab.js';
import { emptyRow, recordRow, rowOk, type LedgerRow } from './helpers/ledger.js';
import { readStoreState } from './helpers/store-check.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable, unmount } from './helpers/tmpfs.js';

const EMAIL = 'alice@example.com';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let scratch: string;
let noTmpfs: string | undefined;
const row: LedgerRow = emptyRow('T6 disk full / EIO / EXDEV / EACCES', 3);
const problems: string[] = [];
const labs: FaultLab[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'boxqc-iofaults-'));
  noTmpfs = await tmpfsUnavailable(scratch);
  if (noTmpfs) process.stdout.write(`io-faults: tmpfs cases skipped: ${noTmpfs}\n`);
});

afterAll(async () => {
  row.leaks = labs.reduce((n, l) => n + l.leaks().length, 0);
  row.secretsChecked = labs.reduce((n, l) => n + l.secrets().size, 0);
  row.failed = problems.length;
  row.notes = `${problems.length} problem(s)${noTmpfs ? `; tmpfs skipped: ${noTmpfs}` : ''}`;
  recordRow(row);
  for (const l of labs) await l.close();
  await rm(scratch, { recursive: true, force: true });
  expect(row.leaks).toBe(0);
});

async function lab(opts: Parameters<typeof startFaultLab>[0] = {}): Promise<FaultLab> {
  const l = await startFaultLab(opts);
  labs.push(l);
  return l;
}

const refreshes = (l: FaultLab) => l.emu.stats().byGrantType.refresh_token ?? 0;

function check(cond: boolean, what: string): void {
  if (!cond) problems.push(what);
  expect(cond, what).toBe(true);
}

describe('disk full on a small tmpfs (T6 a, b)', () => {
  it('a 64 KiB tmpfs filled before the run: exit 1 "disk full", no request to Box, store unchanged, nothing left', async (ctx) => {
    if (noTmpfs) return ctx.skip();
    const mnt = join(scratch, 'full');
    await mountTmpfs(mnt, '64k');
    try {
      const l = await lab({ rootDir: mnt });
      await l.seed({ [EMAIL]: l.mint(EMAIL) });
      await fillDisk(mnt);
      const before = await readFile(l.storePath);
      row.iterations += 1;
      const r = await l.cli(['refresh', '--email', EMAIL, '--force']);
      check(r.code === 1 && /disk full/.test(r.stderr), `exit 1 with "disk full"\n${describeResult(r)}`);
      check(refreshes(l) === 0, `no refresh request reached Box (saw ${refreshes(l)})`);
      check(sha(await readFile(l.storePath)) === sha(before), 'store byte-identical');
      const left = await leftoverWorkFiles(l.dir);
      row.litter += left.length;
      check(
        left.length === 0 && (await readdir(l.dir)).every((n) => !n.endsWith('.tmp')),
        `nothing left behind: ${left.join(', ')}`,
      );
    } finally {
      await unmount(mnt);
    }
  });

  for (const freeAgain of [false, true]) {
    it(
      freeAgain
        ? 'the disk fills after Box answered and frees within the write retries: the new pair is saved'
        : 'the disk fills between Box answer and the write: the new pair is saved in the room reserved before the POST',
      async (ctx) => {
        if (noTmpfs) return ctx.skip();
        const mnt = join(scratch, freeAgain ? 'fill-free' : 'fill');
        await mountTmpfs(mnt, '512k');
        try {
          const l = await lab({ rootDir: mnt, rotation: 'strict' });
          const latency = 400;
          l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: latency });
          const old: Pair = l.mint(EMAIL);
          await l.seed({ [EMAIL]: old });
          row.iterations += 1;
          const run = l.start(['refresh', '--email', EMAIL, '--force']);
          for (let i = 0; i < 1000 && refreshes(l) === 0; i++) await sleep(5);
          const filler = await fillDisk(mnt);
          if (freeAgain) {
            await sleep(latency + 100);
            await rm(filler);
          }
          const r = await run.done;
          await l.settle();
          const st = await readStoreState(l.storePath);
          if (!st.ok) row.corrupted += 1;
          check(st.ok, `store parses: ${st.ok ? '' : st.error}`);
          if (!st.ok) return;
          const u = st.doc.users[EMAIL]!;
          // Issue 15 item 4: before, the save failed here (exit 1) and the user was lost (refresh_interrupted).
          check(r.code === 0 && l.emu.isLive(u.refresh_token) && !u.refresh_in_flight, `saved\n${describeResult(r)}`);
          check(
            (await readdir(l.dir)).every((n) => !n.endsWith('.tmp') && !n.endsWith('.reserve')),
            'no temp or reservation left',
          );
          if (!freeAgain) await rm(filler);
        } finally {
          await unmount(mnt);
        }
      },
    );
  }
});

interface IoCase {
  name: string;
  inject: string;
  /** before: failed before the marker was saved (no POST); lost: failed saving the new pair; ok: saved */
  expect: 'before' | 'lost' | 'ok';
  stderr: RegExp;
}

const IO_CASES: IoCase[] = [
  {
    name: 'EIO on the marker temp fsync',
    inject: 'inject=fsync:error=EIO:when=1',
    expect: 'before',
    stderr: /fsync of the temp file failed \(EIO\)/,
  },
  {
    name: 'EIO on the marker folder fsync (after its rename)',
    inject: 'inject=fsync:error=EIO:when=2',
    expect: 'ok',
    stderr: /durability unknown/,
  },
  {
    name: 'EIO once on the new-pair temp fsync (the write is retried)',
    inject: 'inject=fsync:error=EIO:when=3',
    expect: 'ok',
    stderr: /^(?![\s\S]*durability)/,
  },
  {
    name: 'EIO on every new-pair temp fsync',
    inject: 'inject=fsync:error=EIO:when=3+',
    expect: 'lost',
    stderr: /fsync of the temp file failed \(EIO\)/,
  },
  {
    name: 'EIO on the new-pair folder fsync (after its rename)',
    inject: 'inject=fsync:error=EIO:when=4',
    expect: 'ok',
    stderr: /saved .*tokens\.json, durability unknown/,
  },
  {
    name: 'EXDEV on the marker rename',
    inject: 'inject=rename:error=EXDEV:when=1',
    expect: 'before',
    stderr: /renaming the temp file over the store failed \(EXDEV\)/,
  },
  {
    name: 'EXDEV on every new-pair rename',
    inject: 'inject=rename:error=EXDEV:when=2+',
    expect: 'lost',
    stderr: /renaming the temp file over the store failed \(EXDEV\)/,
  },
  {
    name: 'EACCES on the marker rename',
    inject: 'inject=rename:error=EACCES:when=1',
    expect: 'before',
    stderr: /permission denied/,
  },
  {
    name: 'EACCES on every new-pair rename',
    inject: 'inject=rename:error=EACCES:when=2+',
    expect: 'lost',
    stderr: /permission denied/,
  },
];

describe('strace-injected I/O errors (T6 c)', () => {
  for (const c of IO_CASES) {
    it(`${c.name}: ${c.expect === 'before' ? 'exit 1, no request to Box, store unchanged' : c.expect === 'lost' ? 'exit 1, old pair + marker kept, next run reports it' : 'exit 0, new pair saved'}`, async () => {
      const l = await lab({ rotation: 'strict' });
      const old = l.mint(EMAIL);
      await l.seed({ [EMAIL]: old });
      const before = await readFile(l.storePath);
      row.iterations += 1;
      const r = await l.cli(['refresh', '--email', EMAIL, '--force'], {
        wrap: ['strace', '-f', '-qq', '-o', '/dev/null', '-e', c.inject],
        env: { UV_THREADPOOL_SIZE: '1' },
      });
      await l.settle();
      const st = await readStoreState(l.storePath);
      if (!st.ok) row.corrupted += 1;
      check(st.ok, `store parses: ${st.ok ? '' : st.error}`);
      if (!st.ok) return;
      const u = st.doc.users[EMAIL]!;
      check(c.stderr.test(r.stderr), `stderr matches ${c.stderr}\n${describeResult(r)}`);
      check(
        (await readdir(l.dir)).every((n) => !n.endsWith('.tmp')),
        'no temp left',
      );
      if (c.expect === 'before') {
        check(r.code === 1 && refreshes(l) === 0, `exit 1 and no request to Box\n${describeResult(r)}`);
        check(sha(await readFile(l.storePath)) === sha(before), 'store byte-identical');
      } else if (c.expect === 'ok') {
        check(
          r.code === 0 && l.emu.isLive(u.refresh_token) && !u.refresh_in_flight,
          `new pair saved\n${describeResult(r)}`,
        );
      } else {
        check(
          r.code === 1 && u.refresh_token === old.refresh_token && u.refresh_in_flight !== undefined,
          `old pair + marker kept\n${describeResult(r)}`,
        );
        const next = await l.cli(['refresh', '--email', EMAIL, '--force']);
        const after = await readStoreState(l.storePath);
        const reason = after.ok ? after.doc.users[EMAIL]!.needs_reconnect?.reason : undefined;
        row.lost += 1;
        row.lostWhy[reason ?? 'silent'] = (row.lostWhy[reason ?? 'silent'] ?? 0) + 1;
        const reported = next.code === 4 && reason === 'refresh_interrupted';
        if (!reported) row.unexplained += 1;
        check(reported, `the loss is reported as refresh_interrupted\n${describeResult(next)}`);
      }
      const left = await leftoverWorkFiles(l.dir);
      row.litter += left.length;
      check(left.length === 0, `no lock/probe left: ${left.join(', ')}`);
    });
  }

  it('the row is within bounds', () => {
    expect(problems, problems.join('\n\n')).toEqual([]);
    expect(rowOk({ ...row, leaks: 0 }), JSON.stringify(row)).toBe(true);
  });
});
