/**
 * Issue 17: invites in the file store, beside `users` in the same document; the token never written; the
 * state key created once. (PostgreSQL: test/integration/store-pg/invites-pg.test.ts.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInvite, listPendingInvites, revokeInvites, usableInvite } from '../../../src/core/invites/invites.js';
import { loadStateKey } from '../../../src/core/invites/state-key.js';
import { hashInviteToken } from '../../../src/core/invites/invite-token.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { makeStore, tempDir } from '../store/store-test-kit.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const H72 = 72 * 3_600_000;
let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

describe('invites in the file store', () => {
  it('creates a pending invite keyed by the token hash; the file never holds the token', async () => {
    const { store, path } = makeStore(t.dir);
    const inv = await createInvite(store, { email: ' Alice@Example.com ', expiresInMs: H72, now: NOW });
    expect(inv.hash).toBe(hashInviteToken(inv.token));
    expect(inv.record).toEqual({
      email: 'alice@example.com',
      created_at: formatTimestamp(NOW),
      expires_at: formatTimestamp(NOW + H72),
      state: 'pending',
    });
    const text = readFileSync(path, 'utf8');
    expect(text.includes(inv.token)).toBe(false);
    const doc = JSON.parse(text);
    expect(doc.users).toEqual({});
    expect(doc.invites).toEqual({ [inv.hash]: inv.record });
    expect(usableInvite(await store.read(), inv.hash, NOW + 1000)).toEqual(inv.record);
    expect(usableInvite(await store.read(), inv.hash, NOW + H72 + 1000)).toBeUndefined();
    expect(usableInvite(await store.read(), 'f'.repeat(64), NOW)).toBeUndefined();
  });

  it("a new invite revokes that email's earlier pending ones, not others'", async () => {
    const { store } = makeStore(t.dir);
    const a1 = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW });
    const b1 = await createInvite(store, { email: 'b@x.com', expiresInMs: H72, now: NOW });
    const a2 = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW + 5000 });
    const doc = await store.read();
    expect(doc.invites?.[a1.hash]).toMatchObject({ state: 'revoked', revoked_at: formatTimestamp(NOW + 5000) });
    expect(usableInvite(doc, a1.hash, NOW + 6000)).toBeUndefined();
    expect(usableInvite(doc, a2.hash, NOW + 6000)).toBeDefined();
    expect(usableInvite(doc, b1.hash, NOW + 6000)).toBeDefined();
    expect(listPendingInvites(doc, NOW + 6000).map((i) => i.email)).toEqual(['a@x.com', 'b@x.com']);
  });

  it('a new invite drops every record that expired more than 30 days ago, pending ones included', async () => {
    const { store } = makeStore(t.dir);
    const D = 86_400_000;
    const used = await createInvite(store, { email: 'u@x.com', expiresInMs: H72, now: NOW });
    await store.update((d) => {
      d.invites = { ...d.invites!, [used.hash]: { ...d.invites![used.hash]!, state: 'used' } };
    });
    const neverOpened = await createInvite(store, { email: 'p@x.com', expiresInMs: H72, now: NOW });
    const recent = await createInvite(store, { email: 'r@x.com', expiresInMs: H72, now: NOW + 20 * D });
    // 31 days after the first two expired; the third expired 11 days ago: kept (an audit trail).
    const later = await createInvite(store, { email: 'n@x.com', expiresInMs: H72, now: NOW + H72 + 31 * D });
    const kept = Object.keys((await store.read()).invites ?? {}).sort();
    expect(kept).toEqual([recent.hash, later.hash].sort());
    expect(kept).not.toContain(neverOpened.hash);
  });

  it('lists pending, unexpired invites only, without hash or token', async () => {
    const { store } = makeStore(t.dir);
    await createInvite(store, { email: 'short@x.com', expiresInMs: 60_000, now: NOW });
    const long = await createInvite(store, { email: 'long@x.com', expiresInMs: H72, now: NOW });
    const list = listPendingInvites(await store.read(), NOW + 120_000);
    expect(list).toEqual([
      { email: 'long@x.com', created_at: long.record.created_at, expires_at: long.record.expires_at },
    ]);
    expect(JSON.stringify(list).includes(long.hash)).toBe(false);
  });

  it('revokes the pending invites of one email and says how many', async () => {
    const { store } = makeStore(t.dir);
    const a = await createInvite(store, { email: 'a@x.com', expiresInMs: H72, now: NOW });
    await createInvite(store, { email: 'b@x.com', expiresInMs: H72, now: NOW });
    expect(await revokeInvites(store, 'A@x.com', NOW + 1000)).toBe(1);
    expect(await revokeInvites(store, 'a@x.com', NOW + 2000)).toBe(0);
    const doc = await store.read();
    expect(doc.invites?.[a.hash]?.state).toBe('revoked');
    expect(listPendingInvites(doc, NOW + 3000).map((i) => i.email)).toEqual(['b@x.com']);
  });

  it('keeps users, unknown top-level fields and unknown invite fields beside the invites', async () => {
    const { store, path } = makeStore(t.dir);
    const hash = 'e'.repeat(64);
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        python_meta: { keep: true },
        users: {},
        invites: {
          [hash]: {
            email: 'old@x.com',
            created_at: formatTimestamp(NOW - 1000),
            expires_at: formatTimestamp(NOW + H72),
            state: 'pending',
            note: 'from ops',
          },
        },
      }),
      { mode: 0o600 },
    );
    await createInvite(store, { email: 'new@x.com', expiresInMs: H72, now: NOW });
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.python_meta).toEqual({ keep: true });
    expect(doc.invites[hash].note).toBe('from ops');
    expect(Object.keys(doc.invites)).toHaveLength(2);
  });

  it('refuses a store whose invites are malformed, naming no content', async () => {
    const { store, path } = makeStore(t.dir);
    const bad = [
      { invites: [] },
      { invites: { 'not-a-hash': { email: 'a@x.com', created_at: 'x', expires_at: 'x', state: 'pending' } } },
      {
        invites: {
          ['a'.repeat(64)]: {
            email: 'a@x.com',
            created_at: formatTimestamp(NOW),
            expires_at: formatTimestamp(NOW),
            state: 'lost',
          },
        },
      },
      {
        invites: {
          ['a'.repeat(64)]: {
            email: 'a@x.com',
            created_at: 'soon',
            expires_at: formatTimestamp(NOW),
            state: 'pending',
          },
        },
      },
    ];
    for (const top of bad) {
      writeFileSync(path, JSON.stringify({ version: 1, users: {}, ...top }), { mode: 0o600 });
      await expect(store.read()).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    }
  });
});

describe('the serve state key', () => {
  it('is created once, in the document, and every later call (and racing callers) get the same key', async () => {
    const { store, path } = makeStore(t.dir);
    const { store: other } = makeStore(t.dir);
    const keys = await Promise.all([loadStateKey(store), loadStateKey(other), loadStateKey(store)]);
    expect(keys[0]).toHaveLength(32);
    for (const k of keys) expect(k.equals(keys[0])).toBe(true);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(Buffer.from(doc.box_qc_serve.state_key, 'base64url').equals(keys[0])).toBe(true);
    expect(doc.box_qc_serve.created_at).toMatch(/Z$/);
    expect((await loadStateKey(store)).equals(keys[0])).toBe(true);
  });

  it('refuses a malformed key instead of replacing it', async () => {
    const { store, path } = makeStore(t.dir);
    writeFileSync(path, JSON.stringify({ version: 1, users: {}, box_qc_serve: { state_key: 'short' } }), {
      mode: 0o600,
    });
    await expect(loadStateKey(store)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    expect(JSON.parse(readFileSync(path, 'utf8')).box_qc_serve.state_key).toBe('short');
  });
});

describe('store migrate and invites', () => {
  it('copies missing invites; a spent one wins over the same pending one; pending never revives a spent one', async () => {
    const { mergeDocuments } = await import('../../../src/core/store/migrate.js');
    const rec = (state: 'pending' | 'used' | 'revoked') => ({
      email: 'a@x.com',
      created_at: formatTimestamp(NOW),
      expires_at: formatTimestamp(NOW + H72),
      state,
    });
    const [h1, h2, h3] = ['1', '2', '3'].map((c) => c.repeat(64)) as [string, string, string];
    const dst = { version: 1 as const, users: {}, invites: { [h1]: rec('pending'), [h2]: rec('used') } };
    const src = {
      version: 1 as const,
      users: {},
      invites: { [h1]: rec('used'), [h2]: rec('pending'), [h3]: rec('pending') },
    };
    mergeDocuments(dst, src);
    expect(dst.invites).toEqual({ [h1]: rec('used'), [h2]: rec('used'), [h3]: rec('pending') });
  });
});
