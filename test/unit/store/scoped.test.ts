/**
 * Issue 20, store/scoped.ts on the file store and on a store without readUser/listUsers (one written
 * elsewhere): the file store reads its whole file anyway, so a scoped update still sees every user (the scope
 * is a promise about what the mutation touches, not a filter), readUser falls back to read(), eachUser lists
 * every user in email order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getUser, saveUserTokens } from '../../../src/core/store/document.js';
import { eachUser, onlyUser, readUser } from '../../../src/core/store/scoped.js';
import type { TokenStore } from '../../../src/core/store/types.js';
import { memoryStore } from '../session/memory-store.js';
import { makeStore, pair, tempDir } from './store-test-kit.js';

describe('one-user helpers on the file store', () => {
  let t: ReturnType<typeof tempDir>;
  let store: TokenStore;
  beforeEach(async () => {
    t = tempDir();
    store = makeStore(t.dir).store;
    await store.update((d) => {
      for (const e of ['c@x.com', 'a@x.com', 'b@x.com']) saveUserTokens(d, e, pair(1), undefined, Date.now());
    });
  });
  afterEach(async () => {
    await store.close();
    t.cleanup();
  });

  it('a scoped update is applied to the whole document (the file store ignores the scope)', async () => {
    const seen = await store.update((d) => {
      saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now());
      return Object.keys(d.users).sort();
    }, onlyUser('A@x.com'));
    expect(seen).toEqual(['a@x.com', 'b@x.com', 'c@x.com']);
    expect(getUser(await readUser(store, 'a@x.com'), 'a@x.com')).toMatchObject({ refresh_token: 'rt2' });
  });

  it('readUser: undefined for a missing user; eachUser: every user in order', async () => {
    expect(getUser(await readUser(store, 'nobody@x.com'), 'nobody@x.com')).toBeUndefined();
    const seen: string[] = [];
    for await (const [e] of eachUser(store, 2)) seen.push(e);
    expect(seen).toEqual(['a@x.com', 'b@x.com', 'c@x.com']);
  });
});

describe('one-user helpers on a store without readUser/listUsers', () => {
  it('fall back to read()', async () => {
    const store = memoryStore({ version: 1, users: {} });
    await store.update((d) => saveUserTokens(d, 'z@x.com', pair(1), undefined, Date.now()));
    expect(getUser(await readUser(store, 'Z@x.com'), 'z@x.com')).toMatchObject({ refresh_token: 'rt1' });
    const seen: string[] = [];
    for await (const [e] of eachUser(store)) seen.push(e);
    expect(seen).toEqual(['z@x.com']);
  });
});
