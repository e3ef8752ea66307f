/**
 * Review 3 of the tenth session, finding F2: a cleanup removes every reserved file (`rm .*.reserve`) while the
 * disk is full, between the in-flight marker and the save. The files we hold open keep their pages, so the
 * normal paths the save falls back to (a fresh lock file, a fresh temp) found no room: the rotated pair was
 * lost. Now the dropped temp is closed before the fresh one is written, a page of the slack is given back
 * for the lock file, and the prepared lock is made again after the commit (review 4: the second commit after
 * a cleanup found no room for its lock file). Root only (mount).
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

const rmReserved = (dir: string) => {
  for (const n of readdirSync(dir)) if (n.endsWith('.reserve')) unlinkSync(join(dir, n));
};

async function seeded() {
  const dir = join(tmpfs.dir, 'box-qc');
  mkdirSync(dir, { mode: 0o700 });
  const s = makeStore(dir);
  await s.store.update((d) => {
    for (let i = 0; i < 100; i++) saveUserTokens(d, email(i), pair(i), undefined, Date.now());
  });
  return { ...s, dir };
}

async function cleanupOnFullDisk(order: 'fill then rm' | 'rm then fill', dir: string): Promise<void> {
  if (order === 'fill then rm') {
    await fillDisk(tmpfs.dir);
    rmReserved(dir);
  } else {
    rmReserved(dir);
    await fillDisk(tmpfs.dir);
  }
}

const save = (i: number, n: number) => (d: Parameters<typeof saveUserTokens>[0]) =>
  saveUserTokens(d, email(i), pair(n), undefined, Date.now());

for (const order of ['fill then rm', 'rm then fill'] as const) {
  it(`${order}, before the marker: the marker and the save are written at their first attempt`, async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded();
    const r = await store.reserveWrite();
    await cleanupOnFullDisk(order, dir);
    await store.update((d) => markInFlight(d, email(1), owner, Date.now()));
    await store.update(save(1, 9001));
    expect(JSON.parse(readFileSync(path, 'utf8')).users[email(1)].refresh_token).toBe('rt9001');
    await r.release();
  });

  it(`${order}, two refreshes in flight: both saves written at their first attempt`, async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded();
    const rs = [await store.reserveWrite(), await store.reserveWrite()];
    await store.update((d) => markInFlight(d, email(1), owner, Date.now()));
    await store.update((d) => markInFlight(d, email(2), owner, Date.now()));
    await cleanupOnFullDisk(order, dir);
    await store.update(save(1, 9001));
    await store.update(save(2, 9002));
    const users = JSON.parse(readFileSync(path, 'utf8')).users;
    expect(users[email(1)].refresh_token).toBe('rt9001');
    expect(users[email(2)].refresh_token).toBe('rt9002');
    for (const r of rs) await r.release();
  });

  it(`${order}, between the marker and the save: the save is written at its first attempt`, async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded();
    const r = await store.reserveWrite();
    await store.update((d) => markInFlight(d, email(1), owner, Date.now()));
    await cleanupOnFullDisk(order, dir);
    await store.update(save(1, 9001));
    const saved = JSON.parse(readFileSync(path, 'utf8')).users[email(1)];
    expect(saved.refresh_token).toBe('rt9001');
    expect(saved.refresh_in_flight).toBeUndefined();
    await r.release();
  });
}
