/**
 * Reviews of the splice commit (eighth session), first review findings 1 and 3, second review findings 1-3: a
 * commit's base may be the cache's unfrozen, validated document (applyBatch freezeOnRead), so nothing a mutation
 * was given (in any pass), and nothing a read hands out, may reach the cached document unfrozen; reading through
 * the write view must freeze only the store's own records.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore, saveUserTokens, type StoreDocument } from '../../../src/core/store/index.js';
import { isPidAlive } from '../../../src/store-host.js';
import { pair, record } from './store-test-kit.js';

const rec = (n: number) => record(n);
const NOW = Date.UTC(2026, 10, 26);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-alias-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open() {
  const path = join(dir, 'tokens.json');
  const store = openFileStore(path, { pid: process.pid, euid: process.geteuid?.(), isPidAlive, lockWaitMs: 2000 });
  const users: Record<string, unknown> = {};
  for (let i = 0; i < 6; i++) users[`u${i}@x.com`] = rec(i);
  writeFileSync(path, JSON.stringify({ version: 1, users }, null, 2), { mode: 0o600 });
  return { store, path };
}

const fileDoc = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as StoreDocument;

describe('file store: what an update was given cannot change the cached document afterwards', () => {
  it('a mutation that keeps its document: a record change or a new user afterwards throws', async () => {
    const { store, path } = open();
    let kept: StoreDocument | undefined;
    await store.update((d) => {
      kept = d;
      saveUserTokens(d, 'u1@x.com', pair(1), undefined, NOW);
    });
    expect(() => {
      (kept!.users['u2@x.com'] as { refresh_token: string }).refresh_token = 'EVIL';
    }).toThrow(TypeError);
    expect(() => {
      kept!.users['zz@x.com'] = rec(9);
    }).toThrow(TypeError);
    expect(await store.read()).toEqual(fileDoc(path));
    // The next commit serialises whole (a new user): still nothing of the above reaches the file.
    await store.update((d) => saveUserTokens(d, 'new@x.com', pair(7), undefined, NOW));
    expect(fileDoc(path).users['u2@x.com']!.refresh_token).toBe('rt-2');
    expect(fileDoc(path).users['zz@x.com']).toBeUndefined();
  });

  it('an update that returns d.users: writing through it throws, the cache stays the file', async () => {
    const { store, path } = open();
    const view = await store.update((d) => {
      saveUserTokens(d, 'u1@x.com', pair(1), undefined, NOW);
      return d.users;
    });
    expect(() => {
      view['u3@x.com'] = { ...rec(3), refresh_token: 'EVIL' };
    }).toThrow(TypeError);
    expect(() => {
      (view['u4@x.com'] as { refresh_token: string }).refresh_token = 'EVIL';
    }).toThrow(TypeError);
    expect(await store.read()).toEqual(fileDoc(path));
    await store.update((d) => saveUserTokens(d, 'u5@x.com', pair(5), undefined, NOW));
    expect(fileDoc(path).users['u3@x.com']!.refresh_token).toBe('rt-3');
  });

  it("reading d.users.__proto__ in a mutation does not freeze Object.prototype (it is not the store's record)", async () => {
    const { store } = open();
    const key = '__proto__';
    await store.update((d) => (d.users as Record<string, unknown>)[key]);
    expect(Object.isFrozen(Object.prototype)).toBe(false);
  });

  it('a whole read after a splice commit hands out every record frozen; an in-place change still throws', async () => {
    const { store, path } = open();
    await store.readUser!('u0@x.com'); // the refresh path: the cache holds the document unfrozen
    await store.update((d) => saveUserTokens(d, 'u1@x.com', pair(1), undefined, NOW)); // a splice
    const doc = await store.read();
    expect(Object.values(doc.users).every((r) => Object.isFrozen(r))).toBe(true);
    await expect(
      store.update((d) => {
        (d.users['u4@x.com'] as { refresh_token: string }).refresh_token = 'INPLACE';
      }),
    ).rejects.toThrow(TypeError);
    await store.update((d) => saveUserTokens(d, 'new@x.com', pair(7), undefined, NOW)); // serialised whole
    expect(fileDoc(path).users['u4@x.com']!.refresh_token).toBe('rt-4');
  });

  it('with a frozen cache (two whole reads), a kept d cannot swap the cached users map', async () => {
    const { store, path } = open();
    await store.read();
    await store.read();
    let kept: StoreDocument | undefined;
    const returned = await store.update((d) => {
      kept = d;
      saveUserTokens(d, 'u1@x.com', pair(1), undefined, NOW);
      return d;
    });
    kept!.users = {}; // the mutation's own object: it is not the cached document
    (returned as { extra?: string }).extra = 'x';
    expect(await store.read()).toEqual(fileDoc(path));
    await store.update((d) => saveUserTokens(d, 'new@x.com', pair(7), undefined, NOW));
    expect(Object.keys(fileDoc(path).users)).toHaveLength(7);
  });

  it("a failed pass's d is retired too: a mutation that threw cannot change a record afterwards", async () => {
    const { store, path } = open();
    await store.readUser!('u0@x.com');
    let kept: StoreDocument | undefined;
    await store
      .update((d) => {
        kept = d;
        throw new Error('boom');
      })
      .catch(() => undefined);
    expect(() => {
      (kept!.users['u2@x.com'] as { refresh_token: string }).refresh_token = 'EVIL';
    }).toThrow(TypeError);
    expect(() => {
      kept!.users['zz@x.com'] = rec(9);
    }).toThrow(TypeError);
    await store.update((d) => saveUserTokens(d, 'new@x.com', pair(7), undefined, NOW));
    expect(fileDoc(path).users['u2@x.com']!.refresh_token).toBe('rt-2');
    expect(fileDoc(path).users['zz@x.com']).toBeUndefined();
  });
});
