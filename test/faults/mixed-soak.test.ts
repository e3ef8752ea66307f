/**
 * T3 mixed soak (reliability.md section 8; issue 7): access tokens living 5 s; `refresh --all` for 5 users
 * started every 2 s (cron-like: runs may overlap), four `ls 0` loops, one reader parsing the store every
 * 10 ms; the emulator in `family` rotation, where presenting any spent refresh token revokes the grant.
 * Pass: 0 invalid_grant, every user's refresh chain linear, every process exits 0, the reader never sees a
 * missing or unparsable file, no leftovers, no secret in any output. 60 s in PR runs, 10 min with
 * BOX_QC_SOAK=1 (BOX_QC_SOAK_SECONDS overrides).
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult, type CliResult } from '../helpers/run-cli.js';
import { leftoverWorkFiles } from '../helpers/litter.js';
import { sleep, startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow, rowOk } from './helpers/ledger.js';
import { judgeUsers, readStoreState, seedFresh } from './helpers/store-check.js';

const SOAK = process.env.BOX_QC_SOAK === '1';
const SECONDS = Number(process.env.BOX_QC_SOAK_SECONDS ?? (SOAK ? 600 : 60));
const USERS = Array.from({ length: 5 }, (_, i) => `soak${i}@example.com`);

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('mixed soak (T3)', () => {
  it(`${SECONDS} s of cron refreshes, ls loops and a 10 ms reader under family rotation: 0 invalid_grant, linear chains, reader never fails`, async () => {
    lab = await startFaultLab({ rotation: 'family', accessTokenTtlSeconds: 5 });
    const l = lab;
    await seedFresh(l, USERS);
    const end = Date.now() + SECONDS * 1000;
    const failures: string[] = [];
    const counts = { refresh: 0, ls: 0, reads: 0, missing: 0, unparsable: 0 };
    const note = (what: string, r: CliResult) => {
      if (r.code !== 0) failures.push(`${what}\n${describeResult(r)}`);
    };

    const reader = (async () => {
      while (Date.now() < end) {
        try {
          JSON.parse(await readFile(l.storePath, 'utf8'));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') counts.missing += 1;
          else counts.unparsable += 1;
        }
        counts.reads += 1;
        await sleep(10);
      }
    })();

    const lsLoop = async (k: number) => {
      for (let i = 0; Date.now() < end && i < 100_000; i++) {
        const email = USERS[(k + i) % USERS.length]!;
        const r = await l.cli(['ls', '0', '--email', email], { timeoutMs: 120_000 });
        counts.ls += 1;
        note(`ls 0 --email ${email}`, r);
        if (failures.length > 20) return;
      }
    };

    const cron = (async () => {
      const runs: Promise<void>[] = [];
      while (Date.now() < end && failures.length <= 20) {
        runs.push(
          l.cli(['refresh', '--all'], { timeoutMs: 120_000 }).then((r) => {
            counts.refresh += 1;
            note('refresh --all', r);
          }),
        );
        await sleep(2000);
      }
      await Promise.all(runs);
    })();

    await Promise.all([reader, cron, ...[0, 1, 2, 3].map(lsLoop)]);
    await l.settle();

    const invalidGrant = l.emu.requests.filter((r) => r.path === '/oauth2/token' && r.status === 400).length;
    const chains = USERS.map((u) => l.emu.chainCheck(u));
    const st = await readStoreState(l.storePath);
    const lost = st.ok ? judgeUsers(l, st.doc).filter((v) => v.lost) : [];
    const left = await leftoverWorkFiles(l.dir);
    const leaks = l.leaks();
    const refreshPosts = l.emu.stats().byGrantType.refresh_token ?? 0;

    const row = emptyRow(`T3 mixed soak ${SECONDS} s, family`);
    row.iterations = counts.refresh + counts.ls;
    row.corrupted = counts.missing + counts.unparsable + (st.ok ? 0 : 1);
    row.lost = lost.length;
    row.unexplained = lost.length;
    for (const v of lost) row.lostWhy[v.lost!] = (row.lostWhy[v.lost!] ?? 0) + 1;
    row.litter = left.length;
    row.leaks = leaks.length;
    row.secretsChecked = l.secrets().size;
    row.failed = failures.length + invalidGrant + chains.filter((c) => !c.ok).length;
    row.notes =
      `${counts.refresh} refresh runs, ${counts.ls} ls runs, ${refreshPosts} token POSTs, ${invalidGrant} invalid_grant, ` +
      `${chains.filter((c) => !c.ok).length} non-linear chains, reader ${counts.reads} reads / ${counts.missing} missing / ${counts.unparsable} unparsable, ` +
      `${failures.length} failed process(es)`;
    recordRow(row);

    expect(failures, failures.slice(0, 3).join('\n\n')).toEqual([]);
    expect(invalidGrant).toBe(0);
    expect(chains.filter((c) => !c.ok)).toEqual([]);
    expect(counts).toMatchObject({ missing: 0, unparsable: 0 });
    expect(counts.reads).toBeGreaterThan(0);
    expect(rowOk(row), JSON.stringify(row)).toBe(true);
  });
});
