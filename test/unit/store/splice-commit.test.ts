/**
 * The file store's splice commit (file-store.ts splice, record-layout.ts; issue 20): a commit that replaces a
 * few records rewrites only their text. What a reader can see: every other byte of the file stays as it was,
 * whoever wrote it; a file box-qc wrote stays exactly what a whole serialisation gives; and whatever a splice
 * cannot vouch for (a user added or removed, a top-level field changed, duplicate keys, a key spelled with
 * escapes) is serialised whole, as before.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { serializeStore } from '../../../src/core/store/format.js';
import { makeStore, pair, pythonStyle, record, tempDir } from './store-test-kit.js';

const NOW = Date.UTC(2026, 10, 26);

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

function users(n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) out[`u${i}@x.com`] = record(i, { box_user_name: `Zoë ${i}` });
  return out;
}

describe('file store: a commit that changes a few records rewrites only those', () => {
  it('finds a record by its key text only in a file keyed as read: a key that was normalised is never mistaken', async () => {
    // "A@x.com" reads as a@x.com (format.ts normalises keys). The same text as a deeper key in b's record is
    // not the member: a search by key text alone would take it (record-layout.ts findMembers).
    const { store, path } = makeStore(t.dir);
    const decoy = record(8, { box_user_name: 'decoy' });
    const doc = {
      version: 1,
      users: { 'b@x.com': record(2, { aliases: { 'a@x.com': decoy } }), 'A@x.com': record(1) },
    };
    writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(5), undefined, NOW));
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.users['a@x.com'].refresh_token).toBe('rt5');
    expect(saved.users['b@x.com'].aliases['a@x.com']).toEqual(decoy);
    // Keyed as read now (written whole): the next commit finds a@x.com by its text, and only it.
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(6), undefined, NOW));
    const again = JSON.parse(readFileSync(path, 'utf8'));
    expect(again.users['a@x.com'].refresh_token).toBe('rt6');
    expect(again.users['b@x.com'].aliases['a@x.com']).toEqual(decoy);
  });

  it('keeps every other byte of a file another program wrote (its spacing, its escapes, its last line)', async () => {
    const { store, path } = makeStore(t.dir);
    const doc = { version: 1, users: users(20), backend_note: 'kept as written: \u00e9' };
    const text = pythonStyle(doc);
    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => saveUserTokens(d, 'u7@x.com', pair(1), undefined, NOW));
    const after = readFileSync(path, 'utf8');
    const start = text.indexOf('"u7@x.com": ');
    const end = text.indexOf('"u8@x.com": ');
    // Before and after u7's record: the old bytes, exactly (a whole serialisation rewrites all of them).
    expect(after.slice(0, start)).toBe(text.slice(0, start));
    const tail = text.slice(text.lastIndexOf('},', end));
    expect(after.endsWith(tail)).toBe(true);
    const saved = JSON.parse(after);
    expect(saved.users['u7@x.com'].refresh_token).toBe('rt1');
    expect(saved.users['u6@x.com']).toEqual(doc.users['u6@x.com']);
    expect(saved.backend_note).toBe(doc.backend_note);
    expect(Object.keys(saved.users)).toEqual(Object.keys(doc.users));
    // And again: the second commit splices the first one's result.
    await store.update((d) => saveUserTokens(d, 'u19@x.com', pair(2), undefined, NOW));
    const twice = readFileSync(path, 'utf8');
    expect(twice.slice(0, start)).toBe(text.slice(0, start));
    expect(JSON.parse(twice).users['u19@x.com'].refresh_token).toBe('rt2');
    expect(JSON.parse(twice).users['u7@x.com'].refresh_token).toBe('rt1');
    expect((await store.read()).users['u7@x.com']!.refresh_token).toBe('rt1');
  });

  it('leaves a file box-qc wrote exactly as a whole serialisation of the new document, commit after commit', async () => {
    const { store, path } = makeStore(t.dir);
    writeFileSync(path, serializeStore({ version: 1, users: users(30) } as never), { mode: 0o600 });
    for (const [n, email] of ['u0@x.com', 'u29@x.com', 'u13@x.com', 'u13@x.com'].entries()) {
      await store.update((d) => saveUserTokens(d, email, pair(n), undefined, NOW + n));
      const bytes = readFileSync(path);
      expect(bytes.equals(serializeStore(JSON.parse(bytes.toString('utf8'))))).toBe(true);
    }
    // Several records in one batch (group commit).
    await Promise.all(
      ['u1@x.com', 'u2@x.com', 'u28@x.com'].map((e, i) =>
        store.update((d) => saveUserTokens(d, e, pair(10 + i), undefined, NOW)),
      ),
    );
    const bytes = readFileSync(path);
    expect(bytes.equals(serializeStore(JSON.parse(bytes.toString('utf8'))))).toBe(true);
    const saved = JSON.parse(bytes.toString('utf8'));
    expect(['u1@x.com', 'u2@x.com', 'u28@x.com', 'u13@x.com'].map((e) => saved.users[e].refresh_token)).toEqual([
      'rt10',
      'rt11',
      'rt12',
      'rt3',
    ]);
  });

  it('serialises whole what a splice cannot vouch for: a new user, a removed one, a top-level change', async () => {
    const { store, path } = makeStore(t.dir);
    const base = { version: 1, users: users(3), note: 'x' };
    const text = pythonStyle(base);
    const whole = (doc: unknown) => serializeStore(doc as never).toString('utf8');
    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => saveUserTokens(d, 'new@x.com', pair(1), undefined, NOW));
    expect(readFileSync(path, 'utf8')).toBe(whole(JSON.parse(readFileSync(path, 'utf8'))));

    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => {
      delete d.users['u1@x.com'];
    });
    expect(readFileSync(path, 'utf8')).toBe(
      whole({ ...base, users: { 'u0@x.com': base.users['u0@x.com'], 'u2@x.com': base.users['u2@x.com'] } }),
    );

    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => {
      d.note = 'y';
      d.users['u0@x.com'] = { ...d.users['u0@x.com']!, refresh_token: 'rt-z' };
    });
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(readFileSync(path, 'utf8')).toBe(whole(saved));
    expect([saved.note, saved.users['u0@x.com'].refresh_token]).toEqual(['y', 'rt-z']);

    // A user moved to the end (deleted and added again): the order a whole serialisation gives.
    writeFileSync(path, text, { mode: 0o600 });
    await store.update((d) => {
      const r = d.users['u0@x.com']!;
      delete d.users['u0@x.com'];
      d.users['u0@x.com'] = { ...r, refresh_token: 'rt-moved' };
    });
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).users)).toEqual(['u1@x.com', 'u2@x.com', 'u0@x.com']);
  });

  it('serialises whole a commit on a duplicated user key or a key spelled with escapes: the parse is what is kept', async () => {
    const { store, path } = makeStore(t.dir);
    const one = JSON.stringify(record(1), null, 2);
    const two = JSON.stringify(record(2), null, 2);
    writeFileSync(path, `{"version": 1, "users": {"a@x.com": ${one}, "b@x.com": ${one}, "a@x.com": ${two}}}`, {
      mode: 0o600,
    });
    // The duplicated key changed: serialised whole, the duplicate gone.
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(4), undefined, NOW));
    const whole = JSON.parse(readFileSync(path, 'utf8'));
    expect(whole.users['a@x.com'].refresh_token).toBe('rt4');
    expect(readFileSync(path, 'utf8')).toBe(serializeStore(whole).toString('utf8'));
    // Another key changed: only its record is rewritten (found by its text, record-layout.ts findMembers); the
    // duplicate stays as it was, and reads as before (JSON.parse, like Python's json, keeps the last).
    const dup = `{"version": 1, "users": {"a@x.com": ${one}, "b@x.com": ${one}, "a@x.com": ${two}}}`;
    writeFileSync(path, dup, { mode: 0o600 });
    await store.update((d) => saveUserTokens(d, 'b@x.com', pair(5), undefined, NOW));
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.users['a@x.com'].refresh_token).toBe('rt-2');
    expect(saved.users['b@x.com'].refresh_token).toBe('rt5');
    expect(readFileSync(path, 'utf8').endsWith(`"a@x.com": ${two}}}`)).toBe(true);

    writeFileSync(path, `{"version": 1, "users": {"a\\u0040x.com": ${one}, "b@x.com": ${one}}}`, { mode: 0o600 });
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(6), undefined, NOW));
    const again = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(again.users)).toEqual(['a@x.com', 'b@x.com']);
    expect(again.users['a@x.com'].refresh_token).toBe('rt6');
  });
});
