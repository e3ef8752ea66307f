/**
 * Issue 15 item 5: a PostgreSQL backend terminated mid-POST, then a second refresher. Process A runs
 * `refresh --force`; Box commits the rotation and holds the answer 3 s; meanwhile every box-qc session is
 * terminated (pg_terminate_backend: an operator, a failover, a pooler restart), so A's session advisory lock
 * is gone; then process B runs `refresh --force`. Exactly one POST may present that refresh token (a second
 * one revokes the grant under family rotation, and is a spurious exit 4 under strict): B must wait for A's
 * in-flight marker, A must still save its pair (through a fresh connection, fenced), and B adopts it.
 *
 * Needs both halves of interface C/D: the store's fenced saves after a lost lock (postgres-store.ts,
 * postgres/commit.ts) and the session's rule that nobody replays a young in-flight marker (session.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { refreshCount } from '../e2e/refresh-fixtures.js';
import { startPgLab, type PgLab } from '../integration/store-pg/pg-lab.js';
import { emptyRow, recordRow } from './helpers/ledger.js';

const EMAIL = 'alice@example.com';
const { skip, cluster } = usePgCluster();
let pl: PgLab | undefined;
afterEach(async () => {
  await pl?.close();
  pl = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Terminates every box-qc session (application_name "box-qc pid N@host", postgres/pools.ts); waits until gone. */
async function terminateBoxQc(): Promise<number> {
  const sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'box-qc pid %'";
  const r = await cluster().query('postgres', sql);
  for (let i = 0; i < 100; i++) {
    const left = await cluster().query<{ n: string }>(
      'postgres',
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'box-qc pid %'",
    );
    if (left.rows[0]!.n === '0') break;
    await sleep(20);
  }
  return r.rowCount ?? 0;
}

describe.skipIf(skip).each(['strict', 'family'] as const)(
  'PostgreSQL backend terminated mid-POST (%s rotation)',
  (rotation) => {
    it('exactly one POST presents the refresh token; A saves its pair, B adopts it (exit 0); 0 users lost', async () => {
      pl = await startPgLab(cluster(), { rotation });
      await pl.mintAndSeed([EMAIL]);
      const before = (await pl.readStore()).users[EMAIL]!;
      pl.lab.emu.faults.add({
        route: '/oauth2/token',
        grantType: 'refresh_token',
        action: 'stall-after-commit',
        ms: 3_000,
        times: 1,
      });
      const a = pl.lab.start(['refresh', '--email', EMAIL, '--force'], { BOX_QC_STORE: pl.db.a });
      a.child.stdin!.end();
      // The emulator counts a grant when the request arrives: A's POST is being held from here on.
      const t0 = Date.now();
      while (refreshCount(pl.lab) === 0 && Date.now() - t0 < 20_000) await sleep(20);
      expect(refreshCount(pl.lab)).toBe(1);
      const terminated = await terminateBoxQc();
      const b = pl.lab.start(['refresh', '--email', EMAIL, '--force'], { BOX_QC_STORE: pl.db.b });
      b.child.stdin!.end();
      const [ra, rb] = await Promise.all([a.done, b.done]);

      const events = pl.lab.emu.chains(EMAIL)[EMAIL] ?? [];
      const presented = events.filter((e) => e.presentedGeneration === events[0]?.presentedGeneration).length;
      const stored = (await pl.readStore()).users[EMAIL]!;
      const live = pl.lab.emu.isLive(stored.refresh_token);
      const row = emptyRow(`pg backend terminated mid-POST, 2nd refresher (${rotation})`);
      row.iterations = 1;
      if (!live || stored.needs_reconnect) {
        row.lost = 1;
        row.unexplained = 1;
        row.lostWhy[stored.needs_reconnect?.reason ?? 'silent'] = 1;
      }
      row.failed = Number(ra.code !== 0) + Number(rb.code !== 0) + Number(presented !== 1);
      row.secretsChecked = 1;
      row.leaks = [ra, rb].filter((r) => `${r.stdout}${r.stderr}`.includes(cluster().password)).length;
      row.notes = `terminated ${terminated} sessions; POSTs presenting the token: ${presented}; A exit ${ra.code}, B exit ${rb.code}`;
      recordRow(row);

      expect(terminated, 'A had sessions to terminate').toBeGreaterThan(0);
      expect(presented, JSON.stringify(events.map((e) => [e.presentedGeneration, e.outcome]))).toBe(1);
      expect(ra.code, describeResult(ra)).toBe(0);
      expect(rb.code, describeResult(rb)).toBe(0);
      expect(stored.refresh_token).not.toBe(before.refresh_token);
      expect(live, 'the stored refresh token is live at Box').toBe(true);
      expect(stored.needs_reconnect).toBeUndefined();
      expect(stored.refresh_in_flight).toBeUndefined();
      expect(stored.generation).toBe((before.generation ?? 0) + 1);
      expect(pl.lab.emu.chainCheck(EMAIL)).toMatchObject({ ok: true, refreshes: 1 });
    }, 120_000);
  },
);
