/**
 * Issue 20: one user's reads and saves on the PostgreSQL store load and lock that user's row only, so their
 * cost does not grow with the store. A scoped update (UpdateOptions.emails) never sees, deletes or changes
 * another user, nor drops top-level fields; it does not wait for the store-wide lock; readUser reads one row;
 * listUsers pages through every user in order.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getUser, saveUserTokens } from '../../../src/core/store/document.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { scopedStats } from '../../../src/core/store/postgres/scoped.js';
import { lockName } from '../../../src/core/store/postgres/sql.js';
import { eachUser, onlyUser, readUser } from '../../../src/core/store/scoped.js';
import type { StoreDocument, TokenStore } from '../../../src/core/store/types.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';

const { skip, cluster } = usePgCluster();
const pair = (n: number | string) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });
const email = (i: number) => `u${String(i).padStart(3, '0')}@x.com`;

describe.skipIf(skip)('PostgreSQL store: one-user paths (issue 20)', () => {
  let url: string;
  let store: TokenStore;
  const opened: pg.Client[] = [];
  const open = () =>
    openPostgresStore(url, { pid: process.pid, hostname: hostname(), lockWaitMs: 2_000, env: {} }) as TokenStore;
  const raw = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    opened.push(c);
    return c;
  };

  beforeEach(async () => {
    url = (await cluster().createDatabase()).a;
    store = open();
    await store.update((d) => {
      for (let i = 0; i < 30; i++) saveUserTokens(d, email(i), pair(i), undefined, Date.now());
      d.kept_top_level = { invites: ['x'] };
    });
  });
  afterEach(async () => {
    await store.close();
    await Promise.all(opened.splice(0).map((c) => c.end()));
  });

  it('readUser reads that user only, with the top-level fields; undefined for a missing user', async () => {
    scopedStats.rowsLoaded = 0;
    const one = await readUser(store, email(7));
    expect(Object.keys(one.users)).toEqual([email(7)]);
    expect(getUser(one, email(7))).toMatchObject({ refresh_token: 'rt7' });
    expect(one.kept_top_level).toEqual({ invites: ['x'] });
    expect(scopedStats.rowsLoaded).toBe(1);
    const none = await readUser(store, 'nobody@x.com');
    expect(getUser(none, 'nobody@x.com')).toBeUndefined();
    expect(none.users).toEqual({});
  });

  it('a scoped update sees and loads only its users, and changes nothing else', async () => {
    const before = await store.read();
    scopedStats.rowsLoaded = 0;
    const seen = await store.update(
      (d) => {
        const keys = Object.keys(d.users);
        saveUserTokens(d, email(3), pair('new'), undefined, Date.now());
        return keys;
      },
      onlyUser(email(3)),
    );
    expect(seen).toEqual([email(3)]);
    expect(scopedStats.rowsLoaded).toBe(1);
    const after = await open().read();
    expect(after.users[email(3)]).toMatchObject({ refresh_token: 'rtnew', generation: 2 });
    for (let i = 0; i < 30; i++) if (i !== 3) expect(after.users[email(i)]).toEqual(before.users[email(i)]);
    expect(after.kept_top_level).toEqual({ invites: ['x'] });
  });

  it('a scoped update that empties its document deletes only its own users', async () => {
    await store.update(
      (d) => {
        d.users = {};
      },
      { emails: [email(1), email(2)] },
    );
    const after = await store.read();
    expect(Object.keys(after.users)).toHaveLength(28);
    expect(after.users[email(1)]).toBeUndefined();
    expect(after.users[email(0)]).toMatchObject({ refresh_token: 'rt0' });
    expect(after.kept_top_level).toEqual({ invites: ['x'] });
  });

  it('a scoped update that sets a top-level field is committed under the store lock instead', async () => {
    const other = await raw();
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.store()]);
    // Held store lock: the top-level write waits for it (and gives up, exit 75) instead of bypassing it.
    await expect(
      store.update(
        (d) => {
          d.store_marker = 'x';
        },
        { ...onlyUser(email(6)), waitMs: 300 },
      ),
    ).rejects.toMatchObject({ exitCode: 75 });
    await other.query('ROLLBACK');
    await store.update(
      (d) => {
        d.store_marker = 'y';
        saveUserTokens(d, email(6), pair('top'), undefined, Date.now());
      },
      onlyUser(email(6)),
    );
    const after = await open().read();
    expect(after.store_marker).toBe('y');
    expect(after.kept_top_level).toEqual({ invites: ['x'] });
    expect(after.users[email(6)]).toMatchObject({ refresh_token: 'rttop' });
    expect(Object.keys(after.users)).toHaveLength(30);
  });

  it('a scoped mutation that writes a user outside its scope is refused, nothing written', async () => {
    await expect(
      store.update((d) => saveUserTokens(d, email(5), pair('stray'), undefined, Date.now()), onlyUser(email(4))),
    ).rejects.toThrow(/scoped to u004@x.com changed u005@x.com/);
    expect(getUser(await store.read(), email(5))).toMatchObject({ refresh_token: 'rt5' });
  });

  it('does not wait for the store-wide lock, nor for another user locked FOR UPDATE', async () => {
    const other = await raw();
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.store()]);
    await other.query('SELECT 1 FROM box_qc_tokens WHERE email = $1 FOR UPDATE', [email(0)]);
    await store.update((d) => saveUserTokens(d, email(9), pair('free'), undefined, Date.now()), {
      ...onlyUser(email(9)),
      waitMs: 500,
    });
    expect(getUser(await readUser(store, email(9)), email(9))).toMatchObject({ refresh_token: 'rtfree' });
    await other.query('ROLLBACK');
  });

  it("locks only its own row: another connection can lock any other user's row meanwhile", async () => {
    const holder = await raw();
    const probe = await raw();
    await holder.query('BEGIN');
    // The version bump of every write waits for the meta row: the scoped update stops there, holding its row.
    await holder.query('SELECT 1 FROM box_qc_store WHERE id = 1 FOR UPDATE');
    const waiting = store.update(
      (d) => saveUserTokens(d, email(2), pair('late'), undefined, Date.now()),
      onlyUser(email(2)),
    );
    await probe.query('BEGIN');
    for (let i = 0; i < 50; i++) {
      const busy = await probe.query('SELECT 1 FROM box_qc_tokens WHERE email = $1 FOR UPDATE SKIP LOCKED', [email(2)]);
      if (busy.rows.length === 0) break;
      await probe.query('ROLLBACK');
      await probe.query('BEGIN');
      await new Promise((r) => setTimeout(r, 50));
    }
    await expect(
      probe.query('SELECT 1 FROM box_qc_tokens WHERE email = $1 FOR UPDATE NOWAIT', [email(2)]),
    ).rejects.toThrow(/could not obtain lock/);
    await probe.query('ROLLBACK');
    await probe.query('BEGIN');
    const r = await probe.query('SELECT email FROM box_qc_tokens WHERE email <> $1 FOR UPDATE NOWAIT', [email(2)]);
    expect(r.rows).toHaveLength(29);
    await probe.query('ROLLBACK');
    await holder.query('ROLLBACK');
    await waiting;
    expect(getUser(await readUser(store, email(2)), email(2))).toMatchObject({ refresh_token: 'rtlate' });
  });

  it('listUsers pages through every user in order, one page at a time', async () => {
    const seen: string[] = [];
    for await (const [e, u] of eachUser(store, 7)) {
      seen.push(e);
      expect(u.refresh_token).toMatch(/^rt\d+$/);
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => email(i)));
  });

  it('an unscoped update still sees everything (a mixed batch falls back to the whole document)', async () => {
    const counts = await Promise.all([
      store.update((d) => Object.keys(d.users).length, onlyUser(email(1))),
      store.update((d: StoreDocument) => Object.keys(d.users).length),
    ]);
    expect(counts[1]).toBe(30);
  });
});
