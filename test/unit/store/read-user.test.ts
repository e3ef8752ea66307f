/**
 * The file store's one-user read (issue 20): the file is parsed whole and validated whole, except for a
 * display-only read, which validates only the asked user's record (all keys and the top level still checked);
 * the slice is frozen; and the refresh path's reads before and under the lock, its whole read and its commit
 * parse the file once.
 */
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { holdsCiphertext } from '../../../src/core/store/crypto/envelope.js';
import { makeStore, pair, sha256, tempDir } from './store-test-kit.js';

const T = '2026-01-01T00:00:00Z';
const record = (token: string) => ({
  access_token: `at-${token}`,
  refresh_token: `rt-${token}`,
  access_token_expires_at: T,
  connected_at: T,
  updated_at: T,
});
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => {
  vi.restoreAllMocks();
  tmp.cleanup();
});

function write(path: string, doc: unknown) {
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

describe('file store readUser', () => {
  it('gives that user only (key normalised), frozen, with every top-level field', async () => {
    const { store, path } = makeStore(tmp.dir);
    write(path, { version: 1, extra: { a: 1 }, users: { ' A@X.com': record('a'), 'b@x.com': record('b') } });
    const slice = await store.readUser!('a@x.com');
    expect(Object.keys(slice.users)).toEqual(['a@x.com']);
    expect(slice.users['a@x.com']!.access_token).toBe('at-a');
    expect(slice.extra).toEqual({ a: 1 });
    expect(Object.isFrozen(slice)).toBe(true);
    expect(Object.isFrozen(slice.users['a@x.com'])).toBe(true);
    expect(Object.isFrozen(slice.extra)).toBe(true);
    expect((await store.readUser!('nobody@x.com')).users).toEqual({});
  });

  it("a display-only read does not look at another user's record; any other read and an update refuse it", async () => {
    const { store, path } = makeStore(tmp.dir);
    write(path, { version: 1, users: { 'a@x.com': record('a'), 'b@x.com': { ...record('b'), refresh_token: 42 } } });
    const before = sha256(path);
    const shown = await store.readUser!('a@x.com', { displayOnly: true });
    expect(shown.users['a@x.com']!.refresh_token).toBe('rt-a');
    await expect(store.readUser!('b@x.com', { displayOnly: true })).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    await expect(store.readUser!('a@x.com')).rejects.toMatchObject({
      code: 'E_STORE_CORRUPT',
      message: expect.stringContaining('b@x.com'),
    });
    await expect(store.read()).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    await expect(
      store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now())),
    ).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    expect(sha256(path)).toBe(before);
  });

  it('a display-only read of a store it would tighten validates it whole first (a failing file is never chmod-ed)', async () => {
    const { store, path } = makeStore(tmp.dir);
    write(path, { version: 1, users: { 'a@x.com': record('a'), 'b@x.com': { ...record('b'), refresh_token: 42 } } });
    chmodSync(path, 0o644);
    await expect(store.readUser!('a@x.com', { displayOnly: true })).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('keeps a top-level "__proto__" field a field, in both kinds of slice (review 2 finding 1)', async () => {
    const { store, path } = makeStore(tmp.dir);
    const text = `{"version":1,"__proto__":{"store_id":"x"},"store_id":"s1","users":{"a@x.com":${JSON.stringify(record('a'))}}}\n`;
    writeFileSync(path, text, { mode: 0o600 });
    for (const options of [{ displayOnly: true }, {}]) {
      const slice = await store.readUser!('a@x.com', options);
      expect(slice.store_id).toBe('s1');
      expect(Object.getPrototypeOf(slice)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(slice, '__proto__')?.value).toEqual({ store_id: 'x' });
      expect(slice.users['a@x.com']!.access_token).toBe('at-a');
    }
  });

  it('still checks every key and the top level: a key that is no email, two keys for the asked user, a bad version', async () => {
    const { store, path } = makeStore(tmp.dir);
    const shown = { displayOnly: true };
    write(path, { version: 1, users: { 'a@x.com': record('a'), 'not-an-email': record('b') } });
    await expect(store.readUser!('a@x.com', shown)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    write(path, { version: 1, users: { 'a@x.com': record('a'), 'A@X.COM': record('b') } });
    await expect(store.readUser!('a@x.com', shown)).rejects.toMatchObject({
      code: 'E_STORE_CORRUPT',
      message: expect.stringContaining('two user entries'),
    });
    write(path, { version: 2, users: { 'a@x.com': record('a') } });
    await expect(store.readUser!('a@x.com', shown)).rejects.toMatchObject({ code: 'E_STORE_VERSION' });
    write(path, { version: 1, users: { 'a@x.com': record('a') }, invites: { x: 1 } });
    await expect(store.readUser!('a@x.com', shown)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
  });

  it('reads before and under a lock, a whole read and a commit of unchanged bytes parse the file once', async () => {
    const { store, path } = makeStore(tmp.dir);
    const users: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) users[`u${i}@x.com`] = record(String(i));
    write(path, { version: 1, users });
    const parse = vi.spyOn(JSON, 'parse');
    const storeParses = () =>
      parse.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('"users"')).length;
    await store.readUser!('u1@x.com');
    await store.withUserLock('u1@x.com', () => store.readUser!('u1@x.com'));
    const whole = await store.read();
    expect(Object.isFrozen(whole)).toBe(true);
    expect(holdsCiphertext(whole as never)).toBe(false);
    await store.update((d) => saveUserTokens(d, 'u1@x.com', pair(7), undefined, Date.now()));
    expect(storeParses()).toBe(1);
    expect((await store.readUser!('u1@x.com')).users['u1@x.com']!.refresh_token).toBe('rt7');
    expect(storeParses()).toBe(1);
  });

  it('a store whose bytes spell enc: with \\u escapes is not taken for plaintext', async () => {
    const { store, path } = makeStore(tmp.dir);
    const text = JSON.stringify({ version: 1, users: { 'a@x.com': record('a') } }, null, 2).replace(
      '"rt-a"',
      '"\\u0065nc:v1:k1:AAAA"',
    );
    writeFileSync(path, `${text}\n`, { mode: 0o600 });
    await store.read();
    const cached = await store.read();
    expect(Object.isFrozen(cached)).toBe(true);
    expect(holdsCiphertext(cached as never)).toBe(true);
  });
});
