/**
 * Issue 15 review-2 finding 3: reserved files that vanish (a cleanup script, an operator's `rm .*.reserve`)
 * must not fail the save after the POST. A save whose reserved lock content or reserved temp is gone falls
 * back to the normal path (a fresh lock file, a fresh temp) and drops that reservation; it fails only if the
 * normal path fails too. Before the fix: E_STORE_LOCK (link ENOENT) on every attempt, the user lost.
 */
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const owner = { pid: process.pid, host: 'h' };
const removeReserved = (dir: string, which: (n: string) => boolean) => {
  const gone = readdirSync(dir).filter((n) => n.endsWith('.reserve') && which(n));
  for (const n of gone) unlinkSync(join(dir, n));
  return gone.length;
};

async function seeded() {
  await makeStore(t.dir).store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
  return makeStore(t.dir);
}

describe('reserved files that vanish before the save', () => {
  for (const [name, which] of [
    ['every reserved file', () => true],
    ['the reserved lock content only', (n: string) => n.endsWith('-lock.reserve')],
    ['the reserved temps only', (n: string) => !n.endsWith('-lock.reserve')],
  ] as const) {
    it(`${name} deleted between reserveWrite and the save: the save still succeeds`, async () => {
      const { store, path } = await seeded();
      const r = await store.reserveWrite();
      await store.update((d) => markInFlight(d, 'a@x.com', owner, Date.now()));
      expect(removeReserved(t.dir, which)).toBeGreaterThan(0);
      await store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now()));
      // A second save under the same reservation works too (the dead entries were dropped, not handed back).
      await store.update((d) => saveUserTokens(d, 'a@x.com', pair(3), undefined, Date.now()));
      const rec = JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'];
      expect(rec.refresh_token).toBe('rt3');
      expect(rec.refresh_in_flight).toBeUndefined();
      await r.release();
      expect(unexpectedFiles(t.dir)).toEqual([]);
    });
  }
});
