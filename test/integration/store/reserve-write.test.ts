/**
 * Issue 15 item 4, store side: after reserveWrite() resolves, the next update() calls of this process need no
 * new disk space (the store lock is linked from a pre-written file, the temp is pre-allocated), so a disk that
 * fills to 0 bytes free during the refresh POST cannot stop the save. On a real 256 KiB tmpfs (root only;
 * skips with a printed reason elsewhere). Requires a build (dist/) for the orphan case.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { fillDisk, tmpfsPerTest } from '../../faults/helpers/tmpfs.js';
import { makeStore, pair, sha256 } from '../../unit/store/store-test-kit.js';
import { requireBuild, startWorker } from '../../helpers/store-procs.js';

const run = promisify(execFile);
const tmpfs = tmpfsPerTest('boxqc-reserve-', '256k', 'reservation tests');
beforeAll(() => requireBuild());

const owner = { pid: process.pid, host: 'test-host' };
const storeFiles = (dir: string) => readdirSync(dir).filter((n) => n !== 'tokens.json');

async function seeded(users: number) {
  const dir = join(tmpfs.dir, 'box-qc');
  mkdirSync(dir, { mode: 0o700 });
  const s = makeStore(dir);
  const now = Date.now();
  await s.store.update((d) => {
    for (let i = 0; i < users; i++) saveUserTokens(d, `user${i}@example.com`, pair(i), undefined, now);
  });
  return { ...s, dir };
}

describe('reserveWrite on a disk that fills', () => {
  it('a disk filled to 0 bytes after reserveWrite cannot stop the marker write nor the save; release leaves nothing', async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded(20);
    const r = await store.reserveWrite();
    await store.update((d) => markInFlight(d, 'user3@example.com', owner, Date.now()));
    const filler = await fillDisk(tmpfs.dir);
    // Truly full: not even one more byte fits.
    await expect(run('sh', ['-c', `printf x >> ${filler}`])).rejects.toThrow();
    await store.update((d) => saveUserTokens(d, 'user3@example.com', pair(1003), undefined, Date.now()));
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.users['user3@example.com'].refresh_token).toBe('rt1003');
    expect(doc.users['user3@example.com'].refresh_in_flight).toBeUndefined();
    await r.release();
    expect(storeFiles(dir)).toEqual([]);
    rmSync(filler);
  });

  it('several reservations (group commit): every marker and every save after the fill is written', async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded(30);
    const emails = [0, 1, 2, 3, 4, 5].map((i) => `user${i}@example.com`);
    const rs = await Promise.all(emails.map(() => store.reserveWrite()));
    // Markers go together (one batch), then the disk fills, then the saves come one at a time: each its own write.
    await Promise.all(emails.map((e) => store.update((d) => markInFlight(d, e, owner, Date.now()))));
    const filler = await fillDisk(tmpfs.dir);
    for (const [i, e] of emails.entries())
      await store.update((d) => saveUserTokens(d, e, pair(2000 + i), undefined, Date.now()));
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    for (const [i, e] of emails.entries()) expect(doc.users[e].refresh_token).toBe(`rt${2000 + i}`);
    await Promise.all(rs.map((r) => r.release()));
    expect(storeFiles(dir)).toEqual([]);
    rmSync(filler);
  });

  it('several saves committed in one batch after the fill fit the reservation', async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path } = await seeded(8);
    const emails = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `user${i}@example.com`);
    const rs = await Promise.all(emails.map(() => store.reserveWrite()));
    const filler = await fillDisk(tmpfs.dir);
    await Promise.all(
      emails.map((e, i) =>
        store.update((d) => {
          markInFlight(d, e, owner, Date.now());
          saveUserTokens(d, e, pair(3000 + i), undefined, Date.now());
        }),
      ),
    );
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    for (const [i, e] of emails.entries()) expect(doc.users[e].refresh_token).toBe(`rt${3000 + i}`);
    await Promise.all(rs.map((r) => r.release()));
    rmSync(filler);
  });

  it('reserveWrite on a full disk fails with E_STORE_DISK_FULL (exit 1), store byte-identical, nothing left', async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded(20);
    const filler = await fillDisk(tmpfs.dir);
    const before = sha256(path);
    const err = await store.reserveWrite().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    expect((err as Error).message).toContain(path);
    expect(sha256(path)).toBe(before);
    expect(storeFiles(dir)).toEqual([]);
    rmSync(filler);
  });

  it('a reservation left by a killed process is removed by the next reservation', async (ctx) => {
    if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
    const { store, path, dir } = await seeded(5);
    const w = startWorker({ op: 'reserve', store: path, email: 'x@example.com' });
    await w.printed('HELD');
    const planted = storeFiles(dir);
    expect(planted.length).toBeGreaterThan(0);
    w.child.kill('SIGKILL');
    await w.done;
    const r = await store.reserveWrite();
    await r.release();
    expect(storeFiles(dir)).toEqual([]);
  });
});
