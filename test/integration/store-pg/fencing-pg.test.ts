/**
 * Issue 15 item 5, the PostgreSQL half (interface C): update() is a true read-modify-write of the rows it
 * changes (SELECT ... FOR UPDATE in the commit's transaction, re-applied on a fresh read when a row moved),
 * so a mutation that checks "the row still holds refresh token X" is a real fence; and a process that lost
 * its session advisory lock (its backend terminated) never writes unfenced: nothing before it wrote under
 * that lock, afterwards only while the row still holds the refresh token and generation it last wrote.
 */
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import type { StoreDocument, StoredUser, TokenStore } from '../../../src/core/store/types.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { startRelay } from '../../helpers/tcp-relay.js';

const { skip, cluster } = usePgCluster();

const E = 'alice@example.com';
const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let db: { name: string; a: string; b: string };
const opened: TokenStore[] = [];

/** Each "host" gets its own application_name, so a test can terminate one process's sessions only. */
function open(host: string): TokenStore {
  const s = openPostgresStore(db.a, { pid: process.pid, hostname: host, env: {}, lockWaitMs: 3_000 });
  opened.push(s);
  return s;
}

/** pg_terminate_backend on every session of `host`, as an operator (or a failover) would; waits until gone. */
async function terminate(host: string): Promise<number> {
  const app = `box-qc pid ${process.pid}@${host}`;
  const r = await cluster().query<{ ok: boolean }>(
    'postgres',
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
    [app],
  );
  for (let i = 0; i < 100; i++) {
    const left = await cluster().query<{ n: string }>(
      'postgres',
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    if (left.rows[0]!.n === '0') break;
    await sleep(20);
  }
  return r.rowCount ?? 0;
}

async function row(): Promise<StoredUser> {
  const r = await cluster().query<{ record: StoredUser }>(
    db.name,
    'SELECT record FROM box_qc_tokens WHERE email = $1',
    [E],
  );
  return r.rows[0]!.record;
}

const marker = (doc: StoreDocument) => markInFlight(doc, E, { pid: 1, host: 'host-a' }, Date.now());
const save = (n: number) => (doc: StoreDocument) => saveUserTokens(doc, E, pair(n), undefined, Date.now());

describe.skipIf(skip)('PostgreSQL store: fenced read-modify-write and lost session locks', () => {
  beforeEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
    db = await cluster().createDatabase();
    const seed = open('seed');
    await seed.update(save(0));
  });

  it('update() locks the row it changes: a fence in the mutation sees a concurrent writer committed meanwhile', async () => {
    const s = open('host-a');
    expect((await s.read()).users[E]!.refresh_token).toBe('rt0');
    // Another writer (not box-qc, no advisory lock) changes the row and commits while our update is running.
    const raw = new pg.Client({ connectionString: db.a });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      await raw.query(
        `UPDATE box_qc_tokens SET record = jsonb_set(record, '{refresh_token}', '"rt-other"') WHERE email = $1`,
        [E],
      );
      const p = s.update((doc) => {
        if (doc.users[E]!.refresh_token !== 'rt0') throw new Error('fenced: the row no longer holds rt0');
        return save(1)(doc);
      });
      p.catch(() => {});
      await sleep(300);
      await raw.query('COMMIT');
      await expect(p).rejects.toThrow(/fenced/);
    } finally {
      await raw.end();
    }
    expect((await row()).refresh_token).toBe('rt-other');
  }, 30_000);

  it('a lost user lock before anything was written under it: update() is refused (E_STORE_LOCK_LOST), nothing written', async () => {
    const a = open('host-a');
    await a.withUserLock(E, async () => {
      expect(await terminate('host-a')).toBeGreaterThan(0);
      await expect(a.update(marker)).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST', exitCode: 75 });
    });
    expect((await row()).refresh_in_flight).toBeUndefined();
  }, 30_000);

  it('a lost user lock after the marker, row unchanged: the save still goes through a fresh connection', async () => {
    const a = open('host-a');
    const b = open('host-b');
    const saved = await a.withUserLock(E, async () => {
      await a.update(marker);
      expect(await terminate('host-a')).toBeGreaterThan(0);
      // The lock is really gone: another process takes it at once (and only reads, as a waiting refresher does).
      await b.withUserLock(E, async () => b.read(), { waitMs: 1_000 });
      return a.update(save(1));
    });
    expect(saved.refresh_token).toBe('rt1');
    expect(await row()).toMatchObject({ refresh_token: 'rt1', generation: 2 });
    expect((await row()).refresh_in_flight).toBeUndefined();
  }, 30_000);

  it('a lost user lock after the marker, another process rotated meanwhile: the save is refused, its pair kept', async () => {
    const a = open('host-a');
    const b = open('host-b');
    await a.withUserLock(E, async () => {
      await a.update(marker);
      expect(await terminate('host-a')).toBeGreaterThan(0);
      await b.withUserLock(E, () => b.update(save(2)), { waitMs: 1_000 });
      await expect(a.update(save(1))).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST', exitCode: 75 });
    });
    expect(await row()).toMatchObject({ refresh_token: 'rt2', generation: 2 });
  }, 30_000);

  it('a lost lock in one context does not fence another user batched in the same commit', async () => {
    const a = open('host-a');
    await a.update((doc) => saveUserTokens(doc, 'bob@example.com', pair(10), undefined, Date.now()));
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    const lost = a.withUserLock(E, async () => {
      await terminate('host-a');
      await gate;
      return a.update(marker);
    });
    await sleep(500);
    // A commit in flight, so that the two updates below are queued behind it and committed as one batch.
    const busy = a.update(() => undefined);
    go();
    const other = a.update((doc) => saveUserTokens(doc, 'bob@example.com', pair(11), undefined, Date.now()));
    await busy;
    await expect(lost).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST' });
    await expect(other).resolves.toMatchObject({ refresh_token: 'rt11' });
    expect((await a.read()).users['bob@example.com']!.refresh_token).toBe('rt11');
  }, 30_000);

  it('a lock lost without a sign on its connection (partition) is seen from pg_locks in the commit: nothing written', async () => {
    const relay = await startRelay(cluster().port);
    try {
      const a = openPostgresStore(`postgres://boxqc@127.0.0.1:${relay.port}/${db.name}`, {
        pid: process.pid,
        hostname: 'host-p',
        env: {},
        lockWaitMs: 3_000,
      });
      opened.push(a);
      await a.read();
      const lost = a.withUserLock(E, async () => {
        // The lock's connection is the newest: the client hears nothing more on it; the server ends its session.
        relay.silenceLast();
        const r = await cluster().query(
          'postgres',
          `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
          WHERE l.locktype = 'advisory' AND s.application_name = $1`,
          [`box-qc pid ${process.pid}@host-p`],
        );
        expect(r.rowCount).toBe(1);
        await sleep(200);
        return a.update(marker);
      });
      const t0 = Date.now();
      await expect(lost).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST' });
      // Releasing a lock known lost does not wait on the silent connection (its query timeout is 33 s here).
      expect(Date.now() - t0).toBeLessThan(5_000);
      relay.cutSilenced();
      expect((await row()).refresh_in_flight).toBeUndefined();
    } finally {
      await relay.close();
    }
  }, 30_000);

  it('a connection broken during COMMIT: the rows are read back, the update counts as done and is not applied twice', async () => {
    // COMMIT takes a second here (a deferred trigger), so the connection can be cut while it runs.
    await cluster().query(
      db.name,
      `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`,
    );
    await cluster().query(
      db.name,
      `CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON box_qc_tokens DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
    );
    const relay = await startRelay(cluster().port);
    try {
      const a = openPostgresStore(`postgres://boxqc@127.0.0.1:${relay.port}/${db.name}`, {
        pid: process.pid,
        hostname: 'host-r',
        env: {},
        lockWaitMs: 3_000,
      });
      opened.push(a);
      const p = a.update(save(1));
      p.catch(() => {});
      for (let i = 0; i < 200; i++) {
        const r = await cluster().query(
          'postgres',
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query = 'COMMIT'`,
          [`box-qc pid ${process.pid}@host-r`],
        );
        if (r.rowCount) break;
        await sleep(10);
      }
      relay.cutAll();
      await expect(p).resolves.toMatchObject({ refresh_token: 'rt1', generation: 2 });
    } finally {
      await relay.close();
    }
    expect(await row()).toMatchObject({ refresh_token: 'rt1', generation: 2 });
  }, 30_000);

  it('a new lock holder passes through the store lock before it reads: it sees a commit in progress when it got the lock', async () => {
    const b = open('host-b');
    const raw = new pg.Client({ connectionString: db.a });
    await raw.connect();
    try {
      // Stands for a lost holder's update that saw its lock alive and has not committed yet.
      await raw.query('BEGIN');
      await raw.query(`SELECT pg_advisory_xact_lock(hashtextextended('box-qc:box_qc_tokens:store', 0))`);
      let entered = 0;
      const p = b.withUserLock(E, async () => {
        entered = Date.now();
      });
      await sleep(400);
      expect(entered, 'withUserLock returned while a commit was in progress').toBe(0);
      const committed = Date.now();
      await raw.query('COMMIT');
      await p;
      expect(entered).toBeGreaterThanOrEqual(committed);
    } finally {
      await raw.end();
    }
  }, 30_000);

  it('a connection terminated inside the transaction, before COMMIT, is replaced: the update still commits', async () => {
    const a = open('host-a');
    const raw = new pg.Client({ connectionString: db.a });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      await raw.query(`SELECT pg_advisory_xact_lock(hashtextextended('box-qc:box_qc_tokens:store', 0))`);
      const p = a.update(save(1));
      p.catch(() => {});
      await sleep(300);
      // a's update is waiting for the store lock on its connection: terminate that session.
      const t = await cluster().query(
        'postgres',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [`box-qc pid ${process.pid}@host-a`],
      );
      expect(t.rowCount).toBe(1);
      await sleep(300);
      await raw.query('COMMIT');
      await expect(p).resolves.toMatchObject({ refresh_token: 'rt1' });
    } finally {
      await raw.end();
    }
    expect(await row()).toMatchObject({ refresh_token: 'rt1', generation: 2 });
  }, 30_000);

  it('reserveWrite() is a no-op for PostgreSQL: resolves, release() resolves, nothing written', async () => {
    const a = open('host-a') as TokenStore & { reserveWrite(): Promise<{ release(): Promise<void> }> };
    const before = await row();
    const r = await a.reserveWrite();
    await r.release();
    expect(await row()).toEqual(before);
  }, 30_000);
});
