/**
 * The splice commit for invite records (issue 17 bench): a connect-link callback's commits replace one invite
 * record (its state spent, then used) and perhaps one user's; the file store rewrites only those records' text,
 * as it does for users (splice-commit.test.ts), rather than serialising and validating the whole document, whose
 * invites accumulate (kept 30 days after they expire). What a reader can see: the bytes outside the changed
 * records stay exactly as they were; a file box-qc wrote stays exactly a whole serialisation; anything a splice
 * cannot vouch for (an invite added or removed, a duplicated key, an escape in the file) is serialised whole; an
 * invite record a mutation leaves invalid is refused, the file untouched.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { serializeStore } from '../../../src/core/store/format.js';
import { markInviteUsed, spendStateNonce } from '../../../src/core/invites/invites.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { makeStore, pair, record, sha256, tempDir } from './store-test-kit.js';

const NOW = Date.UTC(2026, 10, 26);
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const hash = (i: number) => createHash('sha256').update(`invite ${i}`).digest('hex');

function invites(n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++)
    out[hash(i)] = {
      email: `u${i % 10}@x.com`,
      created_at: at(NOW - 3_600_000),
      expires_at: at(NOW + 86_400_000),
      state: 'pending',
    };
  return out;
}

function users(n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) out[`u${i}@x.com`] = record(i, { box_user_name: `Zoë ${i}` });
  return out;
}

/** Another program's spelling of the document: 4-space JSON, no final newline (a whole serialisation is 2-space). */
const otherStyle = (doc: unknown) => JSON.stringify(doc, null, 4);

/** The text of member `key` of the top-level object `field` in `text` (quotes and value), and where it starts. */
function memberSpan(text: string, key: string): { start: number; end: number } {
  const start = text.indexOf(`"${key}": `);
  const open = text.indexOf('{', start);
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return { start, end: i + 1 };
  }
  throw new Error('no member');
}

describe('file store: a commit that changes a few invite records rewrites only those', () => {
  it('keeps every byte outside the spent invite of a file another program wrote', async () => {
    const { store, path } = makeStore(t.dir);
    const doc = { version: 1, users: users(10), invites: invites(40), backend_note: 'kept as written' };
    const text = otherStyle(doc);
    writeFileSync(path, text, { mode: 0o600 });
    const spent = await store.update((d) => spendStateNonce(d, hash(17), 'nonce-a', NOW));
    expect(spent).toBe(true);
    const after = readFileSync(path, 'utf8');
    const { start, end } = memberSpan(text, hash(17));
    // Before and after invite 17's value: the old bytes exactly (a whole serialisation rewrites all of them).
    expect(after.slice(0, start)).toBe(text.slice(0, start));
    expect(after.endsWith(text.slice(end))).toBe(true);
    const saved = JSON.parse(after);
    expect(saved.invites[hash(17)].spent_states).toEqual(['nonce-a']);
    expect(saved.invites[hash(16)]).toEqual(doc.invites[hash(16)]);
    expect(saved.users).toEqual(doc.users);
    expect(saved.backend_note).toBe('kept as written');
    expect(Object.keys(saved.invites)).toEqual(Object.keys(doc.invites));
    // And the read the next callback makes sees it.
    expect((await store.read()).invites?.[hash(17)]?.spent_states).toEqual(['nonce-a']);
  });

  it('splices an invite and a user changed in one update, and the next commits still find their records', async () => {
    // "invites" before "users": the user's record moves by the invite's change, and the next splice of a user
    // must find it where it now is.
    const { store, path } = makeStore(t.dir);
    const doc = { version: 1, invites: invites(30), users: users(10) };
    const text = otherStyle(doc);
    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => {
      markInviteUsed(d, hash(3), NOW);
      saveUserTokens(d, 'u3@x.com', pair(1), undefined, NOW);
    });
    const first = readFileSync(path, 'utf8');
    expect(first.slice(0, memberSpan(text, hash(3)).start)).toBe(text.slice(0, memberSpan(text, hash(3)).start));
    expect(first.endsWith(text.slice(memberSpan(text, 'u3@x.com').end))).toBe(true);
    await store.update((d) => saveUserTokens(d, 'u9@x.com', pair(2), undefined, NOW));
    await store.update((d) => spendStateNonce(d, hash(29), 'nonce-b', NOW));
    await store.update((d) => saveUserTokens(d, 'u0@x.com', pair(3), undefined, NOW));
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.invites[hash(3)]).toMatchObject({ state: 'used', used_at: at(NOW) });
    expect(saved.invites[hash(29)].spent_states).toEqual(['nonce-b']);
    expect(['u3@x.com', 'u9@x.com', 'u0@x.com', 'u5@x.com'].map((e) => saved.users[e].refresh_token)).toEqual([
      'rt1',
      'rt2',
      'rt3',
      'rt-5',
    ]);
    expect(Object.keys(saved)).toEqual(['version', 'invites', 'users']);
    expect(readFileSync(path, 'utf8').slice(0, 40)).toBe(text.slice(0, 40));
  });

  it('leaves a file box-qc wrote exactly as a whole serialisation, through a group commit of many callbacks', async () => {
    const { store, path } = makeStore(t.dir);
    writeFileSync(path, serializeStore({ version: 1, users: users(10), invites: invites(60) } as never), {
      mode: 0o600,
    });
    const whole = () => {
      const bytes = readFileSync(path);
      expect(bytes.equals(serializeStore(JSON.parse(bytes.toString('utf8'))))).toBe(true);
      return JSON.parse(bytes.toString('utf8'));
    };
    await store.update((d) => spendStateNonce(d, hash(0), 'n0', NOW));
    whole();
    // Many at once: the spends of one burst and the saves that follow, batched by group commit.
    await Promise.all([
      ...[5, 6, 7, 8].map((i) => store.update((d) => spendStateNonce(d, hash(i), `n${i}`, NOW))),
      store.update((d) => {
        markInviteUsed(d, hash(0), NOW);
        saveUserTokens(d, 'u0@x.com', pair(9), undefined, NOW);
      }),
    ]);
    const saved = whole();
    expect([5, 6, 7, 8].map((i) => saved.invites[hash(i)].spent_states[0])).toEqual(['n5', 'n6', 'n7', 'n8']);
    expect(saved.invites[hash(0)]).toMatchObject({ state: 'used', spent_states: ['n0'] });
    expect(saved.users['u0@x.com'].refresh_token).toBe('rt9');
    // A replay of a spent nonce is refused and leaves the file as it is.
    const before = sha256(path);
    expect(await store.update((d) => spendStateNonce(d, hash(5), 'n5', NOW))).toBe(false);
    expect(sha256(path)).toBe(before);
  });

  it('serialises whole what a splice cannot vouch for: an invite added or removed, a duplicate, an escape', async () => {
    const { store, path } = makeStore(t.dir);
    const base = { version: 1, users: users(2), invites: invites(6) };
    const reSerialised = () =>
      readFileSync(path, 'utf8') === serializeStore(JSON.parse(readFileSync(path, 'utf8'))).toString('utf8');

    writeFileSync(path, otherStyle(base), { mode: 0o600 });
    await store.update((d) => {
      d.invites = { ...d.invites, [hash(99)]: { ...(base.invites[hash(0)] as object), email: 'new@x.com' } as never };
    });
    expect(reSerialised()).toBe(true);

    writeFileSync(path, otherStyle(base), { mode: 0o600 });
    await store.update((d) => {
      const next = { ...d.invites };
      delete next[hash(2)];
      d.invites = next;
    });
    expect(reSerialised()).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).invites)).not.toContain(hash(2));

    // The same key twice: JSON.parse keeps the last; the splice must not guess which text that was.
    const one = JSON.stringify(base.invites[hash(0)]);
    const two = JSON.stringify({ ...(base.invites[hash(0)] as object), email: 'last@x.com' });
    writeFileSync(
      path,
      `{"version": 1, "users": {}, "invites": {"${hash(0)}": ${one}, "${hash(1)}": ${one}, "${hash(0)}": ${two}}}`,
      { mode: 0o600 },
    );
    await store.update((d) => spendStateNonce(d, hash(0), 'n', NOW));
    expect(reSerialised()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8')).invites[hash(0)]).toMatchObject({
      email: 'last@x.com',
      spent_states: ['n'],
    });

    writeFileSync(path, otherStyle({ ...base, note: 'café' }).replace('café', 'caf\\u00e9'), { mode: 0o600 });
    await store.update((d) => spendStateNonce(d, hash(1), 'n', NOW));
    expect(reSerialised()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8')).note).toBe('café');
  });

  it('refuses an invite record a mutation left invalid, the file untouched', async () => {
    const { store, path } = makeStore(t.dir);
    writeFileSync(path, otherStyle({ version: 1, users: users(2), invites: invites(6) }), { mode: 0o600 });
    const before = sha256(path);
    const bad = store.update((d: StoreDocument) => {
      const next = { ...d.invites };
      next[hash(4)] = { ...next[hash(4)]!, state: 'bogus' as never };
      d.invites = next;
    });
    await expect(bad).rejects.toThrow(/internal error: refusing to save an invalid token store document/);
    expect(sha256(path)).toBe(before);
    // The store still takes a good update afterwards.
    expect(await store.update((d) => spendStateNonce(d, hash(4), 'n', NOW))).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8')).invites[hash(4)].spent_states).toEqual(['n']);
  });
});
