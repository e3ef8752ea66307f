/**
 * Issue 15 item 4, the mechanics of reserveWrite() without a real full disk (the tmpfs cases are in
 * test/integration/store/reserve-write.test.ts): under a reservation a save creates no file at all (the
 * store lock is linked into place, a reserved temp is overwritten), a failed write keeps its temp for the
 * retry, and a reservation that cannot be made leaves nothing behind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { O_CREAT, threadPoolStoreFs } from '../../../src/core/store/file/fs-layer.js';
import { markInFlight, saveUserTokens, storeLockPath } from '../../../src/core/store/index.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, sha256, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const owner = { pid: process.pid, host: 'h' };

function recordingFs(failRename = 0) {
  const created: string[] = [];
  const links: Array<[string, string]> = [];
  let renameFailures = failRename;
  return {
    created,
    links,
    fs: {
      open: async (p: string, flags: number, mode?: number) => {
        if (flags & O_CREAT) created.push(p);
        return threadPoolStoreFs.open(p, flags, mode);
      },
      link: async (a: string, b: string) => {
        links.push([a, b]);
        return threadPoolStoreFs.link(a, b);
      },
      rename: async (a: string, b: string) => {
        if (renameFailures-- > 0) throw Object.assign(new Error('injected'), { code: 'EIO' });
        return threadPoolStoreFs.rename(a, b);
      },
    },
  };
}

async function seeded(extra: Parameters<typeof makeStore>[1] = {}) {
  await makeStore(t.dir).store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
  return makeStore(t.dir, extra);
}

describe('reserveWrite', () => {
  it('under a reservation the marker and the save create no file: the store lock is linked, reserved temps overwritten', async () => {
    const rec = recordingFs();
    const { store, path } = await seeded({ fs: rec.fs });
    const r = await store.reserveWrite();
    const reserved = rec.created.length;
    expect(reserved).toBeGreaterThanOrEqual(3);
    expect(rec.created.every((p) => p.endsWith('.reserve'))).toBe(true);
    await store.update((d) => markInFlight(d, 'a@x.com', owner, Date.now()));
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now()));
    // Only the pool's refill after each rename (best effort) creates files, all reservations (write-reserve.ts).
    expect(rec.created.slice(reserved).filter((p) => !p.endsWith('.reserve'))).toEqual([]);
    expect(rec.links.map(([, to]) => to)).toEqual([storeLockPath(path), storeLockPath(path)]);
    expect(JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'].refresh_token).toBe('rt2');
    await r.release();
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('a write that fails before its rename keeps its reserved temp: the retry creates no file', async () => {
    const rec = recordingFs(1);
    const { store, path } = await seeded({ fs: rec.fs });
    const before = sha256(path);
    const r = await store.reserveWrite();
    const reserved = rec.created.length;
    const err = await store
      .update((d) => saveUserTokens(d, 'a@x.com', pair(3), undefined, Date.now()))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_WRITE', exitCode: 1 });
    expect(sha256(path)).toBe(before);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(3), undefined, Date.now()));
    expect(rec.created.slice(reserved).filter((p) => !p.endsWith('.reserve'))).toEqual([]);
    expect(JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'].refresh_token).toBe('rt3');
    await r.release();
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('a reservation that cannot be made fails (exit 1) and leaves nothing; the store is unchanged', async () => {
    let creates = 0;
    const { store, path } = await seeded({
      fs: {
        open: async (p, flags, mode) => {
          // The store lock's content fits; the first reserved temp does not.
          if (flags & O_CREAT && ++creates === 2) throw Object.assign(new Error('injected'), { code: 'ENOSPC' });
          return threadPoolStoreFs.open(p, flags, mode);
        },
      },
    });
    const before = sha256(path);
    const err = await store.reserveWrite().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    expect((err as Error).message).toContain(`cannot save token store ${path}: disk full`);
    expect(sha256(path)).toBe(before);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('without a reservation nothing changes: a save creates its own temp and lock, and the reservation files are gone after release', async () => {
    const rec = recordingFs();
    const { store } = await seeded({ fs: rec.fs });
    await (await store.reserveWrite()).release();
    rec.created.length = 0;
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(4), undefined, Date.now()));
    expect(
      rec.created.map((p) => p.replace(/.*\//, '').replace(/\.[0-9a-f]{8}-\d+-(\d+|x)-[0-9a-f]{16}\./, '.X.')),
    ).toEqual(['.tokens.json.lock', '.tokens.json.X.tmp']);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('a reservation released after close() leaves the reservations made since alone (review 3 F4)', async () => {
    const { store } = await seeded();
    const r1 = await store.reserveWrite();
    await store.close();
    const r2 = await store.reserveWrite();
    const reserved = () => readdirSync(t.dir).filter((n) => n.endsWith('.reserve'));
    const before = reserved();
    expect(before.length).toBeGreaterThan(0);
    await r1.release();
    expect(reserved()).toEqual(before);
    await r2.release();
    expect(reserved()).toEqual([]);
  });
});
