/**
 * Issue 15 review finding 2, commit level, on a real server: when PostgreSQL refuses the batch's write for
 * one row that no check of ours foresaw (here a trigger raising for one email; in the field, a value jsonb
 * rejects), the batch is committed item by item: the other users' rotations are saved, only that caller fails.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { withTokenCrypto } from '../../../src/core/store/crypto/crypto-store.js';
import { parseKeyring } from '../../../src/core/store/crypto/keyring.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { onlyUser } from '../../../src/core/store/scoped.js';
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

  it.skipIf(skip)(
    'a user whose row is held elsewhere (lock_timeout, 55P03) fails alone: the one-user updates batched with it are saved (final review finding 1)',
    async () => {
      const db = await cluster().createDatabase();
      const store = openPostgresStore(db.a, { pid: process.pid, hostname: 'host-a', env: {}, lockWaitMs: 1_000 });
      const users = ['x@x.com', 'y@x.com', 'z@x.com'];
      const holder = new pg.Client({ connectionString: db.a });
      try {
        await store.update((d) => {
          for (const e of users) saveUserTokens(d, e, pair(1), undefined, Date.now());
        });
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM box_qc_tokens WHERE email = 'x@x.com' FOR UPDATE`);
        // One update in flight, so the next three are committed together as one batch.
        const first = store.update(
          (d) => saveUserTokens(d, 'w@x.com', pair(1), undefined, Date.now()),
          onlyUser('w@x.com'),
        );
        const results = await Promise.allSettled(
          users.map((e) => store.update((d) => saveUserTokens(d, e, pair(2), undefined, Date.now()), onlyUser(e))),
        );
        await first;
        expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
        expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_STORE_BUSY', exitCode: 75 });
        await holder.query('ROLLBACK');
        const rows = await cluster().query<{ email: string; rt: string }>(
          db.name,
          `SELECT email, record->>'refresh_token' AS rt FROM box_qc_tokens WHERE email <> 'w@x.com' ORDER BY email`,
        );
        expect(rows.rows).toEqual([
          { email: 'x@x.com', rt: 'rt1' },
          { email: 'y@x.com', rt: 'rt2' },
          { email: 'z@x.com', rt: 'rt2' },
        ]);
      } finally {
        await holder.end().catch(() => {});
        await store.close();
      }
    },
    30_000,
  );

  it.skipIf(skip)(
    'a keyless one-user update refuses to store plaintext in a store that holds ciphertext (only store_id is loaded with the row; final review finding 2)',
    async () => {
      const db = await cluster().createDatabase();
      const open = () => openPostgresStore(db.a, { pid: process.pid, hostname: 'host-a', env: {}, lockWaitMs: 3_000 });
      const keyed = withTokenCrypto(open(), parseKeyring(`k1:${Buffer.alloc(32, 1).toString('base64')}`, 'BOX_QC_KEY'));
      const keyless = withTokenCrypto(open(), undefined);
      try {
        await keyed.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
        await expect(
          keyless.update((d) => saveUserTokens(d, 'b@x.com', pair(2), undefined, Date.now()), onlyUser('b@x.com')),
        ).rejects.toMatchObject({ code: 'E_KEY_MISSING' });
        const rows = await cluster().query<{ email: string }>(
          db.name,
          `SELECT email FROM box_qc_tokens ORDER BY email`,
        );
        expect(rows.rows).toEqual([{ email: 'a@x.com' }]);
      } finally {
        await keyed.close();
        await keyless.close();
      }
    },
    30_000,
  );
});
