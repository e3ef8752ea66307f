/**
 * Review 3 of the tenth session, finding F2: a cleanup removes every reserved file (`rm .*.reserve`) while the
 * disk is full, between the in-flight marker and the save. The files we hold open keep their pages, so the
 * normal paths the save falls back to (a fresh lock file, a fresh temp) found no room: the rotated pair was
 * lost. Now the dropped temp is closed before the fresh one is written and a page of the slack is given back
 * for the lock file. Root only (mount).
 */
import { mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { fillDisk, tmpfsPerTest } from '../../faults/helpers/tmpfs.js';
import { makeStore, pair } from '../../unit/store/store-test-kit.js';

const tmpfs = tmpfsPerTest('boxqc-cleanup-', '4m', 'cleanup tests');
const owner = { pid: process.pid, host: 'test-host' };
const email = (i: number) => `user${i}@example.com`;

for (const order of ['fill then rm', 'rm then fill'] as const)
  it(`${order}: the save is written at its first attempt`, async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const dir = join(tmpfs.dir, 'box-qc');
    mkdirSync(dir, { mode: 0o700 });
    const { store, path } = makeStore(dir);
    await store.update((d) => {
      for (let i = 0; i < 100; i++) saveUserTokens(d, email(i), pair(i), undefined, Date.now());
    });
    const r = await store.reserveWrite();
    await store.update((d) => markInFlight(d, email(1), owner, Date.now()));
    const rm = () => {
      for (const n of readdirSync(dir)) if (n.endsWith('.reserve')) unlinkSync(join(dir, n));
    };
    if (order === 'fill then rm') {
      await fillDisk(tmpfs.dir);
      rm();
    } else {
      rm();
      await fillDisk(tmpfs.dir);
    }
    await store.update((d) => saveUserTokens(d, email(1), pair(9001), undefined, Date.now()));
    const saved = JSON.parse(readFileSync(path, 'utf8')).users[email(1)];
    expect(saved.refresh_token).toBe('rt9001');
    expect(saved.refresh_in_flight).toBeUndefined();
    await r.release();
  });
