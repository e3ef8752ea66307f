/**
 * Review 2 of the ninth session, finding F2: a disk that fills between a commit's rename and the pool's
 * refill. The refill then creates a temp it cannot grow; it must not leave that short temp where the next
 * save takes it (every retry of the save failed on it, the full temp beneath unused: a lost refresh token),
 * nor spend the slack on it. Here another writer takes every freed block the instant the in-flight marker's
 * rename lands, on a real tmpfs; the save of the new pair must still be written. Root only (mount).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { fillDisk, tmpfsPerTest } from '../../faults/helpers/tmpfs.js';
import { makeStore, pair } from '../../unit/store/store-test-kit.js';

const tmpfs = tmpfsPerTest('boxqc-refill-', '4m', 'refill tests');

const owner = { pid: process.pid, host: 'test-host' };
const email = (i: number) => `user${i}@example.com`;

for (const users of [50, 300]) {
  it(`${users} users: the disk fills right after the marker's rename; the save is still written`, async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const mnt = tmpfs.dir;
    const dir = join(mnt, 'box-qc');
    mkdirSync(dir, { mode: 0o700 });
    let fillAfterRename = false;
    let filler: string | undefined;
    const { store, path } = makeStore(dir, {
      fs: {
        rename: async (from, to) => {
          await rename(from, to);
          if (fillAfterRename && to === path) {
            fillAfterRename = false;
            filler = await fillDisk(mnt);
          }
        },
      },
    });
    await store.update((d) => {
      for (let i = 0; i < users; i++) saveUserTokens(d, email(i), pair(i), undefined, Date.now());
    });
    const r = await store.reserveWrite();
    fillAfterRename = true;
    await store.update((d) => markInFlight(d, email(1), owner, Date.now()));
    expect(filler).toBeDefined();
    // The save, and a second one: the pool must still hold a temp that fits after the first.
    await store.update((d) => saveUserTokens(d, email(1), pair(9001), undefined, Date.now()));
    await store.update((d) => saveUserTokens(d, email(2), pair(9002), undefined, Date.now()));
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.users[email(1)].refresh_token).toBe('rt9001');
    expect(doc.users[email(1)].refresh_in_flight).toBeUndefined();
    expect(doc.users[email(2)].refresh_token).toBe('rt9002');
    await r.release();
    rmSync(filler!);
  }, 60_000);
}
