/**
 * Issue 15 review finding 2, commit level, on a real server: when PostgreSQL refuses the batch's write for
 * one row that no check of ours foresaw (here a trigger raising for one email; in the field, a value jsonb
 * rejects), the batch is committed item by item: the other users' rotations are saved, only that caller fails.
 */
import { describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';

const { skip, cluster } = usePgCluster();

const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });

describe('PostgreSQL: a batch whose write the server refuses for one row', () => {
  it.skipIf(skip)('saves the other rows of the batch and rejects only that caller', async () => {
    const db = await cluster().createDatabase();
    const store = openPostgresStore(db.a, { pid: process.pid, hostname: 'host-a', env: {}, lockWaitMs: 3_000 });
    try {
      await store.update((d) => {
        for (const e of ['a@x.com', 'b@x.com', 'c@x.com']) saveUserTokens(d, e, pair(1), undefined, Date.now());
      });
      await cluster().query(
        db.name,
        `CREATE FUNCTION refuse_b() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.email = 'b@x.com' THEN RAISE EXCEPTION 'row refused'; END IF; RETURN NEW; END $$`,
      );
      await cluster().query(
        db.name,
        `CREATE TRIGGER refuse_b BEFORE INSERT OR UPDATE ON box_qc_tokens FOR EACH ROW EXECUTE FUNCTION refuse_b()`,
      );
      const results = await Promise.allSettled([
        store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now())),
        store.update((d) => saveUserTokens(d, 'a@x.com', pair(3), undefined, Date.now())),
        store.update((d) => saveUserTokens(d, 'b@x.com', pair(3), undefined, Date.now())),
        store.update((d) => saveUserTokens(d, 'c@x.com', pair(3), undefined, Date.now())),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_STORE_DB', exitCode: 1 });
      const rows = await cluster().query<{ email: string; rt: string }>(
        db.name,
        `SELECT email, record->>'refresh_token' AS rt FROM box_qc_tokens ORDER BY email`,
      );
      expect(rows.rows).toEqual([
        { email: 'a@x.com', rt: 'rt3' },
        { email: 'b@x.com', rt: 'rt1' },
        { email: 'c@x.com', rt: 'rt3' },
      ]);
    } finally {
      await store.close();
    }
  });
});
