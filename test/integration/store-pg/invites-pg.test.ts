/**
 * Issue 17 on PostgreSQL: invites in their own table (box_qc_invites), written in the same transaction as
 * the users; the serve state key in the meta row; an older database gains the table on first use; and
 * `store migrate` carries invites and the key both ways (file -> PostgreSQL -> file keeps every field).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { createInvite, revokeInvites } from '../../../src/core/invites/invites.js';
import { loadStateKey } from '../../../src/core/invites/state-key.js';
import { openFileStore } from '../../../src/core/store/index.js';
import { migrateStore } from '../../../src/core/store/migrate.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { isPidAlive } from '../../../src/store-host.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { openPg } from './pg-lab.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const H72 = 72 * 3_600_000;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-inv-pg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const openFile = (path: string) => openFileStore(path, { pid: process.pid, isPidAlive, euid: process.geteuid?.() });

describe.skipIf(skip)('invites on PostgreSQL', () => {
  it('box-qc invite, --list and --revoke work on a postgres:// store', async () => {
    const db = await cluster().createDatabase();
    const env = { BOX_QC_STORE: db.a, BOX_QC_PUBLIC_URL: 'https://qc.example.com/box-qc' };
    const made = await runCli(['--json', 'invite', '--email', 'a@x.com'], { env });
    expect(made.code, describeResult(made)).toBe(0);
    const { url } = JSON.parse(made.stdout) as { url: string };
    const list = await runCli(['--json', 'invite', '--list'], { env: { ...env, BOX_QC_STORE: db.b } });
    expect(JSON.parse(list.stdout).invites.map((i: { email: string }) => i.email)).toEqual(['a@x.com']);
    const rows = await cluster().query(db.name, 'SELECT token_hash, state FROM box_qc_invites');
    expect(rows.rows).toEqual([
      { token_hash: createHash('sha256').update(url.split('/').at(-1)!).digest('hex'), state: 'pending' },
    ]);
    const revoked = await runCli(['--json', 'invite', '--revoke', '--email', 'a@x.com'], { env });
    expect(JSON.parse(revoked.stdout)).toEqual({ ok: true, email: 'a@x.com', revoked: 1 });
  });

  it('lives in box_qc_invites (hash, email, times, state), never the token; not in the meta row', async () => {
    const db = await cluster().createDatabase();
    const store = openPg(db.a);
    try {
      const a = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW });
      const a2 = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW + 1000 });
      await loadStateKey(store, NOW);
      const rows = await cluster().query(
        db.name,
        `SELECT token_hash, email, state, created_at, expires_at, revoked_at, used_at, record FROM box_qc_invites ORDER BY created_at`,
      );
      expect(rows.rows.map((r) => [r.token_hash, r.email, r.state])).toEqual([
        [a.hash, 'a@x.com', 'revoked'],
        [a2.hash, 'a@x.com', 'pending'],
      ]);
      expect((rows.rows[0]!.created_at as Date).getTime()).toBe(NOW);
      expect((rows.rows[0]!.revoked_at as Date).getTime()).toBe(NOW + 1000);
      expect(rows.rows[1]!.record).toEqual(a2.record);
      const meta = await cluster().query(db.name, `SELECT extra FROM box_qc_store`);
      expect(Object.keys(meta.rows[0]!.extra as object)).toEqual(['box_qc_serve']);
      const all = JSON.stringify((await cluster().query(db.name, `SELECT * FROM box_qc_invites`)).rows);
      expect(all.includes(a.token)).toBe(false);
      // The state CHECK holds even for a hand-written row.
      await expect(
        cluster().query(db.name, `UPDATE box_qc_invites SET state = 'lost' WHERE token_hash = $1`, [a.hash]),
      ).rejects.toThrow(/check/i);
      // A second handle (another host) sees the same invites and key.
      const other = openPg(db.b);
      try {
        expect((await other.read()).invites).toEqual((await store.read()).invites);
        expect((await loadStateKey(other)).equals(await loadStateKey(store))).toBe(true);
      } finally {
        await other.close();
      }
    } finally {
      await store.close();
    }
  });

  it('two hosts racing to create the state key end with one key', async () => {
    const db = await cluster().createDatabase();
    const a = openPg(db.a);
    const b = openPg(db.b);
    try {
      const keys = await Promise.all([loadStateKey(a), loadStateKey(b), loadStateKey(a), loadStateKey(b)]);
      for (const k of keys) expect(k.equals(keys[0])).toBe(true);
      const meta = await cluster().query(db.name, 'SELECT extra FROM box_qc_store');
      const stored = (meta.rows[0]!.extra as { box_qc_serve: { state_key: string } }).box_qc_serve.state_key;
      expect(Buffer.from(stored, 'base64url').equals(keys[0])).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('writes a user row and an invite change in one transaction (one update)', async () => {
    const db = await cluster().createDatabase();
    const store = openPg(db.a);
    try {
      const inv = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW });
      await expect(
        store.update((d) => {
          saveUserTokens(d, 'a@x.com', { accessToken: 'at', refreshToken: 'rt', expiresIn: 3600 }, undefined, NOW);
          d.invites = { ...d.invites, [inv.hash]: { ...d.invites![inv.hash]!, state: 'used' } };
          // A value PostgreSQL refuses in the same transaction: nothing of it may land.
          d.invites = { ...d.invites, ['f'.repeat(64)]: { ...inv.record, email: 'b@x.com', expires_at: 'x' } };
        }),
      ).rejects.toThrow();
      const doc = await store.read();
      expect(doc.users['a@x.com']).toBeUndefined();
      expect(doc.invites?.[inv.hash]?.state).toBe('pending');
      expect(await revokeInvites(store, 'a@x.com', NOW)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('a database made before issue 17 gains the table on first use, its users untouched', async () => {
    const db = await cluster().createDatabase();
    const store = openPg(db.a);
    try {
      await store.update((d) => {
        saveUserTokens(d, 'a@x.com', { accessToken: 'at', refreshToken: 'rt', expiresIn: 3600 }, undefined, NOW);
      });
    } finally {
      await store.close();
    }
    await cluster().query(db.name, 'DROP TABLE box_qc_invites');
    const again = openPg(db.a);
    try {
      await createInvite(again, { email: 'a@x.com', expiresInMs: H72, now: NOW });
      const doc = await again.read();
      expect(Object.keys(doc.invites ?? {})).toHaveLength(1);
      expect(doc.users['a@x.com']?.refresh_token).toBe('rt');
    } finally {
      await again.close();
    }
  });

  it('store migrate carries invites and the state key file -> PostgreSQL -> file, unknown fields kept', async () => {
    const db = await cluster().createDatabase();
    const src = join(dir, 'tokens.json');
    const hash = 'a'.repeat(64);
    const used = 'b'.repeat(64);
    const doc = {
      version: 1,
      box_qc_serve: { state_key: 'k'.repeat(43), created_at: formatTimestamp(NOW) },
      users: {},
      invites: {
        [hash]: {
          email: 'a@x.com',
          created_at: formatTimestamp(NOW),
          expires_at: formatTimestamp(NOW + H72),
          state: 'pending',
          note: { by: 'ops' },
        },
        [used]: {
          email: 'b@x.com',
          created_at: formatTimestamp(NOW),
          expires_at: formatTimestamp(NOW + H72),
          state: 'used',
          used_at: formatTimestamp(NOW + 5000),
        },
      },
    };
    writeFileSync(src, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    const pgStore = openPg(db.a);
    const back = join(dir, 'back.json');
    try {
      await migrateStore(openFile(src), pgStore);
      expect((await cluster().query(db.name, 'SELECT count(*)::int AS n FROM box_qc_invites')).rows[0]!.n).toBe(2);
      await migrateStore(pgStore, openFile(back));
    } finally {
      await pgStore.close();
    }
    expect(JSON.parse(readFileSync(back, 'utf8'))).toEqual(doc);
  });
});
