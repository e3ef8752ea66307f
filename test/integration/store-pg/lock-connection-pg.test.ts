/**
 * Issue 20, `refresh --all` fan-out: inside withUserLock, one user's reads and the check before the POST run
 * on the lock's own idle connection (postgres/lock-connection.ts), and a scoped commit sends BEGIN, its row
 * locks, the held-lock check and its locked load as one message (postgres/scoped.ts beginLocked). What each
 * guarantee rests on changed, so each is shown to still hold: a lost lock is still caught before the POST and
 * in the commit (even when its connection went silent), a read still answers when the lock's connection died,
 * and values written as literals round-trip whatever they hold.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getUser, markInFlight, saveUserTokens } from '../../../src/core/store/document.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { onlyUser, readUser } from '../../../src/core/store/scoped.js';
import type { StoreDocument, StoredUser, TokenStore } from '../../../src/core/store/types.js';
import { lockName } from '../../../src/core/store/postgres/sql.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { startRelay } from '../../helpers/tcp-relay.js';

const { skip, cluster } = usePgCluster();
const E = 'alice@example.com';
const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const marker = (email: string) => (doc: StoreDocument) => markInFlight(doc, email, { pid: 1, host: 'h' }, Date.now());
const save = (email: string, n: number) => (doc: StoreDocument) =>
  saveUserTokens(doc, email, pair(n), undefined, Date.now());

let db: { name: string; a: string; b: string };
const opened: TokenStore[] = [];
function open(host: string, url = db.a): TokenStore {
  const s = openPostgresStore(url, { pid: process.pid, hostname: host, env: {}, lockWaitMs: 3_000 });
  opened.push(s);
  return s;
}
const app = (host: string) => `box-qc pid ${process.pid}@${host}`;

/** The backend pid holding a session advisory lock for `host` (its user lock's connection). */
async function lockBackend(host: string): Promise<number> {
  const r = await cluster().query<{ pid: number }>(
    'postgres',
    `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND s.application_name = $1`,
    [app(host)],
  );
  expect(r.rows).toHaveLength(1);
  return r.rows[0]!.pid;
}

async function row(email = E): Promise<StoredUser | undefined> {
  const r = await cluster().query<{ record: StoredUser }>(
    db.name,
    'SELECT record FROM box_qc_tokens WHERE email = $1',
    [email],
  );
  return r.rows[0]?.record;
}

/** Which backend ran each statement whose text matches, while `fn` runs (pg is the module the store imports). */
async function backendsOf<T>(pattern: RegExp, fn: () => Promise<T>): Promise<{ value: T; pids: number[] }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const pids: number[] = [];
  proto.query = function (this: { processID?: number }, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : (q as { text?: string } | null)?.text;
    if (typeof text === 'string' && pattern.test(text)) pids.push(this.processID ?? -1);
    return original.apply(this, args);
  };
  try {
    return { value: await fn(), pids };
  } finally {
    proto.query = original;
  }
}

/**
 * A one-user transaction in progress when the lock is granted (it holds the row's lock, as a predecessor that
 * lost its lock may, and has written `value`): what withUserLock({ readUser: true }) hands fn once it commits.
 */
async function readDuringCommit(store: TokenStore, value: string): Promise<StoredUser | undefined> {
  const writer = new pg.Client({ connectionString: db.a });
  await writer.connect();
  try {
    await writer.query('BEGIN');
    await writer.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.row(E)]);
    await writer.query(`UPDATE box_qc_tokens SET record = jsonb_set(record, '{refresh_token}', $2) WHERE email = $1`, [
      E,
      JSON.stringify(value),
    ]);
    const seen = store.withUserLock(E, async (locked) => getUser(locked!, E), { readUser: true });
    await sleep(300);
    await writer.query('COMMIT');
    return await seen;
  } finally {
    await writer.end();
  }
}

describe.skipIf(skip)('PostgreSQL store: a user lock connection carries that user’s reads and checks', () => {
  beforeEach(async () => {
    db = await cluster().createDatabase();
    await open('seed').update(save(E, 0));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
  });

  it('inside withUserLock, readUser and reserveWrite run on the lock’s connection; outside, on the main pool', async () => {
    const a = open('host-a');
    await a.read();
    const inside = await backendsOf(/box_qc_store|pg_is_in_recovery/, () =>
      a.withUserLock(E, async () => {
        const lockPid = await lockBackend('host-a');
        const user = getUser(await readUser(a, E), E);
        const reservation = await a.reserveWrite();
        await reservation.release();
        return { lockPid, user, topLevel: reservation.topLevel };
      }),
    );
    expect(inside.value.user).toMatchObject({ refresh_token: 'rt0' });
    // The meta row's fields come with the check (the crypto wrapper reads them from there).
    expect(inside.value.topLevel).toMatchObject({ version: 1, users: {} });
    expect(inside.pids).toHaveLength(2);
    expect(new Set(inside.pids)).toEqual(new Set([inside.value.lockPid]));
    const outside = await backendsOf(/box_qc_store/, () => readUser(a, E));
    expect(outside.pids).toHaveLength(1);
    expect(outside.pids[0]).not.toBe(inside.value.lockPid);
  }, 30_000);

  it('a read-only database is refused before the POST on the lock’s connection (E_STORE_READONLY, exit 75)', async () => {
    await cluster().query('postgres', `ALTER DATABASE ${db.name} SET default_transaction_read_only = on`);
    const a = open('host-ro');
    await a.withUserLock(E, async () => {
      await expect(a.reserveWrite()).rejects.toMatchObject({ code: 'E_STORE_READONLY', exitCode: 75 });
    });
  }, 30_000);

  it('the lock’s connection terminated: readUser still answers (main pool), reserveWrite refuses (E_STORE_LOCK_LOST)', async () => {
    const a = open('host-a');
    await a.withUserLock(E, async () => {
      await cluster().query('postgres', 'SELECT pg_terminate_backend($1)', [await lockBackend('host-a')]);
      await sleep(100);
      expect(getUser(await readUser(a, E), E)).toMatchObject({ refresh_token: 'rt0' });
      await expect(a.reserveWrite()).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST', exitCode: 75 });
      // Nothing was written under it before: a scoped write is refused too.
      await expect(a.update(marker(E), onlyUser(E))).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST' });
    });
    expect((await row())?.refresh_in_flight).toBeUndefined();
  }, 30_000);

  it('a lock lost silently (partition) is seen from pg_locks in a scoped commit’s one-message preamble: nothing written', async () => {
    const relay = await startRelay(cluster().port);
    try {
      const a = open('host-p', `postgres://boxqc@127.0.0.1:${relay.port}/${db.name}`);
      await a.read();
      const lost = a.withUserLock(E, async () => {
        relay.silenceLast();
        await cluster().query('postgres', 'SELECT pg_terminate_backend($1)', [await lockBackend('host-p')]);
        await sleep(200);
        return a.update(marker(E), onlyUser(E));
      });
      await expect(lost).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST' });
      expect((await row())?.refresh_in_flight).toBeUndefined();
    } finally {
      await relay.close();
    }
  }, 30_000);

  it('a scoped commit under a live lock still writes, and one under a lost lock after its marker only while unchanged', async () => {
    const a = open('host-a');
    const b = open('host-b');
    await a.withUserLock(E, async () => {
      await a.update(marker(E), onlyUser(E));
      await cluster().query('postgres', 'SELECT pg_terminate_backend($1)', [await lockBackend('host-a')]);
      await b.withUserLock(E, () => b.update(save(E, 2), onlyUser(E)), { waitMs: 1_000 });
      await expect(a.update(save(E, 1), onlyUser(E))).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST' });
    });
    expect(await row()).toMatchObject({ refresh_token: 'rt2' });
  }, 30_000);

  it('withUserLock({ readUser: true }) hands fn the record, read in the lock’s own message once the barrier passed', async () => {
    const a = open('host-a');
    await a.read();
    const got = await backendsOf(/box_qc_store/, () => a.withUserLock(E, async (locked) => locked, { readUser: true }));
    expect(getUser(got.value!, E)).toMatchObject({ refresh_token: 'rt0' });
    expect(got.pids).toHaveLength(1);
    // A one-user transaction in progress when the lock is granted (it holds the row's lock, as a predecessor
    // that lost its lock may): the read waits for its COMMIT and sees what it wrote.
    expect(await readDuringCommit(a, 'rt-in-progress')).toMatchObject({ refresh_token: 'rt-in-progress' });
  }, 30_000);

  it('under a database default of REPEATABLE READ the read under the lock still sees the commit the barrier waited out (review finding 1)', async () => {
    await cluster().query(
      'postgres',
      `ALTER DATABASE ${db.name} SET default_transaction_isolation = 'repeatable read'`,
    );
    const a = open('host-rr');
    await a.read();
    expect(await readDuringCommit(a, 'rt-committed')).toMatchObject({ refresh_token: 'rt-committed' });
  }, 30_000);

  it.skipIf(process.getuid?.() !== 0)(
    'a FATAL on the lock’s connection mid-read (terminated while it ran): the read is answered by the main pool (review finding 2)',
    async () => {
      const a = open('host-fatal');
      await a.withUserLock(E, async () => {
        const pid = await lockBackend('host-fatal');
        process.kill(pid, 'SIGSTOP');
        try {
          const reading = readUser(a, E);
          await sleep(150);
          await cluster().query('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
          process.kill(pid, 'SIGCONT');
          expect(getUser(await reading, E)).toMatchObject({ refresh_token: 'rt0' });
        } finally {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // already gone
          }
        }
        await expect(a.reserveWrite()).rejects.toMatchObject({ code: 'E_STORE_LOCK_LOST', exitCode: 75 });
      });
    },
    30_000,
  );

  it('withUserLock({ readUser: true }) after waiting for a busy lock hands fn nothing: the caller reads itself', async () => {
    const a = open('host-a');
    const b = open('host-b');
    let release!: () => void;
    const holding = b.withUserLock(E, () => new Promise<void>((r) => (release = r)));
    await sleep(200);
    const waited = a.withUserLock(E, async (locked) => locked, { readUser: true, waitMs: 5_000 });
    await sleep(200);
    release();
    await holding;
    expect(await waited).toBeUndefined();
  }, 30_000);

  it('emails that need quoting (quote, backslash) go through the scoped commit’s literals intact', async () => {
    const odd = "o'brien\\x'; drop table box_qc_tokens; --@example.com";
    const a = open('host-a');
    await a.withUserLock(
      odd,
      async (locked) => {
        expect(getUser(locked!, odd)).toBeUndefined();
        await a.update(save(odd, 5), onlyUser(odd));
        await a.update(marker(odd), onlyUser(odd));
        expect(getUser(await readUser(a, odd), odd)).toMatchObject({ refresh_token: 'rt5' });
      },
      { readUser: true },
    );
    expect(await row(odd)).toMatchObject({ refresh_token: 'rt5' });
    expect(await row()).toMatchObject({ refresh_token: 'rt0' });
  }, 30_000);
});
