/**
 * Issue 15 item 4: the disk fills while Box is rotating the refresh token. The store is on a 256 KiB tmpfs;
 * the emulator holds its token answer (latency), and during the hold the tmpfs is filled to 0 bytes free.
 * Everything the save needs (the store lock, a temp of the right size) was reserved before the POST, so the
 * rotated pair is saved anyway: exit 0, no marker left, 0 users lost. Also with `refresh --all` over several
 * users, so saves that group commit batches together (and saves that come one at a time) are covered.
 * Before the fix: creating the store lock failed with ENOSPC, exit 1, the user was dead.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { leftoverWorkFiles } from '../helpers/litter.js';
import { sleep, startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow, type LedgerRow } from './helpers/ledger.js';
import { judgeUsers, readStoreState } from './helpers/store-check.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable, unmount } from './helpers/tmpfs.js';

let scratch: string;
let noTmpfs: string | undefined;
const row: LedgerRow = emptyRow('disk fills during the refresh POST', 0);
const labs: FaultLab[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'boxqc-fillpost-'));
  noTmpfs = await tmpfsUnavailable(scratch);
  if (noTmpfs) process.stdout.write(`disk-fills-during-post: skipped: ${noTmpfs}\n`);
});

afterAll(async () => {
  row.leaks = labs.reduce((n, l) => n + l.leaks().length, 0);
  row.secretsChecked = labs.reduce((n, l) => n + l.secrets().size, 0);
  recordRow(row);
  for (const l of labs) await l.close();
  await rm(scratch, { recursive: true, force: true });
  expect(row.leaks).toBe(0);
});

const refreshes = (l: FaultLab) => l.emu.stats().byGrantType.refresh_token ?? 0;

const CASES = [
  {
    name: 'refresh --email E --force',
    users: 1,
    args: (emails: string[]) => ['refresh', '--email', emails[0]!, '--force'],
  },
  { name: 'refresh --all --force over 5 users', users: 5, args: () => ['refresh', '--all', '--force'] },
];

describe('the disk fills to 0 bytes during the refresh POST', () => {
  for (const c of CASES) {
    it(`${c.name}: exit 0, every rotated pair saved, 0 users lost, nothing left behind`, async (ctx) => {
      if (noTmpfs) return ctx.skip();
      const mnt = join(scratch, `fill-${c.users}`);
      await mountTmpfs(mnt, '256k');
      try {
        const l = await startFaultLab({ rootDir: mnt, rotation: 'strict' });
        labs.push(l);
        const emails = Array.from({ length: c.users }, (_, i) => `user${i}@example.com`);
        const old = Object.fromEntries(emails.map((e) => [e, l.mint(e)]));
        await l.seed(old);
        // Each user's answer is held 1.5 s after Box received the refresh: the window in which the disk fills.
        l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 1500 });
        row.iterations += 1;
        const run = l.start(c.args(emails));
        for (let i = 0; i < 2000 && refreshes(l) < c.users; i++) await sleep(5);
        expect(refreshes(l), 'every refresh POST reached Box before the fill').toBe(c.users);
        const filler = await fillDisk(mnt);
        const r = await run.done;
        await l.settle();
        const st = await readStoreState(l.storePath);
        if (!st.ok) row.corrupted += 1;
        expect(st.ok, st.ok ? '' : st.error).toBe(true);
        if (!st.ok) return;
        const verdicts = judgeUsers(l, st.doc);
        const lost = verdicts.filter((v) => v.lost !== undefined || v.inFlightMarker);
        row.lost += lost.length;
        for (const v of lost) row.lostWhy[v.lost ?? 'marker'] = (row.lostWhy[v.lost ?? 'marker'] ?? 0) + 1;
        expect(r.code, describeResult(r)).toBe(0);
        expect(lost, describeResult(r)).toEqual([]);
        for (const e of emails) expect(st.doc.users[e]!.refresh_token, e).not.toBe(old[e]!.refresh_token);
        const left = [
          ...(await leftoverWorkFiles(l.dir)),
          ...(await readdir(l.dir)).filter((n) => n.endsWith('.reserve')),
        ];
        row.litter += left.length;
        expect(left).toEqual([]);
        await rm(filler);
      } finally {
        await unmount(mnt);
      }
    });
  }
});
