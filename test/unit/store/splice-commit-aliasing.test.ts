/**
 * Review of the splice commit (eighth session), findings 1 and 3: a commit's base is the cache's unfrozen,
 * validated document (applyBatch freezeOnRead), so nothing a mutation was given may reach the cached result
 * unfrozen, and reading through the write view must freeze only the store's own records.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore, saveUserTokens, type StoreDocument } from '../../../src/core/store/index.js';
import { isPidAlive } from '../../../src/store-host.js';

const T = '2026-01-01T00:00:00Z';
const rec = (n: number) => ({
  access_token: `at-${n}`,
  refresh_token: `rt-${n}`,
  access_token_expires_at: T,
  connected_at: T,
  updated_at: T,
});
const NOW = Date.UTC(2026, 10, 26);
const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });

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
});
