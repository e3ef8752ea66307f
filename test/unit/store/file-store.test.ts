import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { getUser, saveUserTokens } from '../../../src/core/store/index.js';
import { CORRUPT_FIXTURES, PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, sha256, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

describe('file store: format compatibility', () => {
  it('reads a backend-written store and saving another user leaves its user and extra fields unchanged', async () => {
    const { store, path } = makeStore(t.dir);
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o600);
    const original = JSON.parse(readFileSync(PYTHON_BACKEND_FIXTURE, 'utf8'));
    const doc = await store.read();
    expect(getUser(doc, 'Alice@Example.com')?.access_token_expires_at).toBe('2026-11-01T11:04:55.123456Z');

    await store.update((d) => saveUserTokens(d, 'bob@example.com', pair(1), undefined, Date.UTC(2026, 10, 26)));
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.users['alice@example.com']).toEqual(original.users['alice@example.com']);
    expect(saved.backend_note).toBe(original.backend_note);
    expect(saved.version).toBe(1);
    expect(saved.users['bob@example.com'].access_token_expires_at).toBe('2026-11-26T01:03:55Z');
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('treats a missing file as no users and creates nothing when only reading', async () => {
    const sub = join(t.dir, 'not-yet');
    const { store } = makeStore(sub);
    expect((await store.read()).users).toEqual({});
    expect(existsSync(sub)).toBe(false);
  });

  it('does not write when a mutation changes nothing', async () => {
    const { store, path } = makeStore(t.dir);
    await store.update((d) => getUser(d, 'nobody@x.com'));
    expect(existsSync(path)).toBe(false);
    expect(unexpectedFiles(t.dir, [])).toEqual([]);
  });
});

describe('file store: corrupt stores are errors, never empty, never written', () => {
  for (const fixture of CORRUPT_FIXTURES) {
    it(`refuses ${fixture.name}: exit 2, names the path, bytes unchanged, nothing left behind`, async () => {
      const { store, path } = makeStore(t.dir);
      fixture.install(path);
      const isFile = statSync(path).isFile();
      const before = isFile ? sha256(path) : undefined;
      const readErr = await store.read().catch((e: unknown) => e);
      expect(readErr).toBeInstanceOf(StoreError);
      expect((readErr as StoreError).exitCode).toBe(2);
      expect((readErr as StoreError).message).toContain(path);
      expect((readErr as StoreError).message).toMatch(fixture.expect);
      expect((readErr as StoreError).message).not.toContain('\n');

      let mutated = false;
      const updErr = await store
        .update((d) => {
          mutated = true;
          saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now());
        })
        .catch((e: unknown) => e);
      expect(updErr).toBeInstanceOf(StoreError);
      expect(mutated).toBe(false);
      if (isFile) expect(sha256(path)).toBe(before);
      else expect(statSync(path).isDirectory()).toBe(true);
      expect(unexpectedFiles(t.dir)).toEqual([]);
    });
  }
});

describe('file store: group commit', () => {
  it('commits updates that arrive during a write together, each caller getting its own result or error', async () => {
    let renames = 0;
    const { store, path } = makeStore(t.dir, {
      fs: {
        rename: async (a, b) => {
          renames++;
          await (await import('node:fs/promises')).rename(a, b);
        },
      },
    });
    const now = Date.now();
    const first = store.update((d) => saveUserTokens(d, 'u0@x.com', pair(0), undefined, now).generation);
    const rest = Array.from({ length: 5 }, (_, i) =>
      store.update((d) => {
        if (i === 2) {
          saveUserTokens(d, 'poison@x.com', pair(9), undefined, now); // must be undone with the throw
          throw new Error('mutation 2 failed');
        }
        return saveUserTokens(d, `u${i + 1}@x.com`, pair(i + 1), undefined, now).access_token;
      }),
    );
    const settled = await Promise.allSettled([first, ...rest]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      1,
      'at1',
      'at2',
      'mutation 2 failed',
      'at4',
      'at5',
    ]);
    expect(renames).toBe(2);
    const users = Object.keys(JSON.parse(readFileSync(path, 'utf8')).users).sort();
    expect(users).toEqual(['u0@x.com', 'u1@x.com', 'u2@x.com', 'u4@x.com', 'u5@x.com']);
  });

  it('refuses to write a document the backend could not read', async () => {
    const { store, path } = makeStore(t.dir);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    const before = sha256(path);
    const err = await store
      .update((d) => {
        d.users['a@x.com'] = { ...d.users['a@x.com'], access_token: 42 } as never;
      })
      .catch((e: unknown) => e);
    // Checked per mutation (issue 15 review finding 2): that caller fails alone, exit 1, the store is intact.
    expect(err).toMatchObject({ code: 'E_STORE_UNSTORABLE', exitCode: 1 });
    expect((err as Error).message).toMatch(
      /^refusing to save the record for a@x\.com: .*access_token must be a string/,
    );
    expect(sha256(path)).toBe(before);
  });

  it('fails a mutation that changes a stored record in place (records are shared and frozen), writing nothing', async () => {
    const { store, path } = makeStore(t.dir);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    await store.read();
    await store.read();
    const before = sha256(path);
    const err = await store
      .update((d) => {
        d.users['a@x.com']!.access_token = 'changed in place';
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(sha256(path)).toBe(before);
    expect((await store.read()).users['a@x.com']!.access_token).not.toBe('changed in place');
  });
});

describe('file store: durability failures', () => {
  async function seeded(extra: Parameters<typeof makeStore>[1]) {
    const seed = makeStore(t.dir);
    await seed.store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    const s = makeStore(t.dir, extra);
    return { ...s, before: sha256(s.path) };
  }

  it('keeps the old store byte-identical and removes the temp when the rename fails', async () => {
    const { store, path, before } = await seeded({
      fs: {
        rename: async () => {
          throw Object.assign(new Error('x'), { code: 'EXDEV' });
        },
      },
    });
    const err = await store
      .update((d) => saveUserTokens(d, 'b@x.com', pair(2), undefined, Date.now()))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_WRITE', exitCode: 1 });
    expect((err as Error).message).toContain(path);
    expect(sha256(path)).toBe(before);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('detects a short write (a truncated temp is never renamed over the store)', async () => {
    const fsp = await import('node:fs/promises');
    const { store, path, before } = await seeded({
      fs: {
        open: async (p, flags, mode) => {
          const fh = await fsp.open(p, flags, mode);
          if (p.endsWith('.tmp')) {
            // What write-file-atomic did on a full disk: one write whose byte count is ignored (reliability.md E1).
            fh.writeFile = async (data: Buffer) => {
              await fh.write(data.subarray(0, 10));
            };
          }
          return fh;
        },
      },
    });
    const err = await store
      .update((d) => saveUserTokens(d, 'b@x.com', pair(2), undefined, Date.now()))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    expect((err as Error).message).toMatch(/disk full: free space on/);
    expect(sha256(path)).toBe(before);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('reports a failed folder fsync after the rename as "saved, durability unknown" without rolling back', async () => {
    const { store, path, warnings } = await seeded({
      fs: {
        fsyncDir: async () => {
          throw Object.assign(new Error('x'), { code: 'EIO' });
        },
      },
    });
    await store.update((d) => saveUserTokens(d, 'b@x.com', pair(2), undefined, Date.now()));
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).users)).toContain('b@x.com');
    expect(warnings).toEqual([
      expect.stringMatching(/^saved .*tokens\.json, durability unknown: fsync of the folder .* failed \(EIO\)/),
    ]);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('ensureWritable fails without touching the store when there is not enough free space', async () => {
    const { store, path, before } = await seeded({
      fs: { statfs: async () => ({ type: 0xef53, bsize: 4096, bavail: 3 }) },
    });
    await expect(store.ensureWritable()).rejects.toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    expect(sha256(path)).toBe(before);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('ensureWritable passes on a writable folder with room and warns about network file systems', async () => {
    const { store, warnings } = await seeded({
      fs: { statfs: async () => ({ type: 0x6969, bsize: 4096, bavail: 1 << 20 }) },
    });
    await store.ensureWritable();
    expect(warnings.join('\n')).toMatch(/network file system \(NFS\)/);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });
});

describe('file store: permissions and planted files', () => {
  it('creates the folder 0700 and the file 0600 even with umask 000', async () => {
    const old = process.umask(0);
    try {
      const sub = join(t.dir, 'deep', 'box-qc');
      const { store, path } = makeStore(sub);
      await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
      expect(statSync(sub).mode & 0o777).toBe(0o700);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('tightens a 0644 store to 0600 with a warning', async () => {
    const { store, path, warnings } = makeStore(t.dir);
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o644);
    await store.read();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(warnings).toEqual([`token store ${path} was accessible by other users (mode 0644); tightened to 0600`]);
  });

  it('refuses a store owned by another uid (exit 2) and leaves it alone', async () => {
    const { store, path } = makeStore(t.dir, { euid: 0 });
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o644);
    chownSync(path, 65534, 65534);
    const before = sha256(path);
    const err = await store.read().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_OWNER', exitCode: 2 });
    expect((err as Error).message).toContain('owned by uid 65534');
    await expect(store.update(() => 1)).rejects.toMatchObject({ code: 'E_STORE_OWNER' });
    expect(sha256(path)).toBe(before);
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('refuses a store that is a symbolic link', async () => {
    const { store, path } = makeStore(t.dir);
    const real = join(t.dir, 'real.json');
    copyFileSync(PYTHON_BACKEND_FIXTURE, real);
    symlinkSync(real, path);
    await expect(store.read()).rejects.toMatchObject({ code: 'E_STORE_SYMLINK', exitCode: 2 });
  });

  it('does not write through a symlink planted at the temp path', async () => {
    const victim = join(t.dir, 'victim');
    const { store, path } = makeStore(t.dir, { tempRandomId: () => 'fixed' });
    const planted = join(t.dir, '.tokens.json.fixed.tmp');
    symlinkSync(victim, planted);
    // First save (no store yet): O_EXCL|O_NOFOLLOW refuses the planted link.
    const err = await store
      .update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_UNSAFE_TEMP', exitCode: 1 });
    expect(existsSync(victim)).toBe(false);
    expect(existsSync(path)).toBe(false);
    // With a store in place, the writer (holding the store lock) clears leftovers at temp paths, link included.
    await makeStore(t.dir).store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    await store.update((d) => saveUserTokens(d, 'b@x.com', pair(2), undefined, Date.now()));
    expect(existsSync(victim)).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).users)).toEqual(['a@x.com', 'b@x.com']);
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });

  it('does not write through a symlink planted at a lock path', async () => {
    const victim = join(t.dir, 'victim');
    const { store } = makeStore(t.dir);
    const { userLockPath, storeLockPath } = await import('../../../src/core/store/index.js');
    symlinkSync(victim, userLockPath(join(t.dir, 'tokens.json'), 'a@x.com'));
    await expect(store.withUserLock('a@x.com', async () => 1)).rejects.toMatchObject({
      code: 'E_STORE_LOCK_UNSAFE',
      exitCode: 2,
    });
    symlinkSync(victim, storeLockPath(join(t.dir, 'tokens.json')));
    await expect(store.update(() => 1)).rejects.toMatchObject({ code: 'E_STORE_LOCK_UNSAFE' });
    expect(existsSync(victim)).toBe(false);
  });

  it('refuses a store path whose folder is a file', async () => {
    writeFileSync(join(t.dir, 'file'), 'x');
    mkdirSync(join(t.dir, 'ok'));
    const { store } = makeStore(join(t.dir, 'file'));
    await expect(store.read()).rejects.toMatchObject({ exitCode: 2 });
    await expect(store.update(() => 1)).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('file store: concurrent callers share reads and checks (issue 17 bench)', () => {
  it('200 concurrent reads open the store a handful of times, see a save that finished before they asked, and get a frozen shared document', async () => {
    const seed = makeStore(t.dir);
    await seed.store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    let opens = 0;
    const { store } = makeStore(t.dir, {
      fs: {
        open: async (path, flags, mode) => {
          if (path.endsWith('tokens.json')) opens++;
          const { threadPoolStoreFs } = await import('../../../src/core/store/file/fs-layer.js');
          return threadPoolStoreFs.open(path, flags, mode);
        },
      },
    });
    const docs = await Promise.all(Array.from({ length: 200 }, () => store.read()));
    expect(opens).toBeLessThanOrEqual(3);
    expect(docs.every((d) => getUser(d, 'a@x.com')?.refresh_token === 'rt1')).toBe(true);
    expect(Object.isFrozen(docs[199])).toBe(true);
    // Another process saves; a read that asks afterwards sees it, even while older reads are in flight.
    const inFlight = store.read();
    await seed.store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now()));
    const after = await store.read();
    await inFlight;
    expect(getUser(after, 'a@x.com')?.refresh_token).toBe('rt2');
  });

  it('concurrent ensureWritable calls share probes, and each caller still hears of a full disk', async () => {
    const seed = makeStore(t.dir);
    await seed.store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    let probes = 0;
    let full = false;
    const { store } = makeStore(t.dir, {
      fs: {
        statfs: async () => {
          probes++;
          return { type: 0xef53, bsize: 4096, bavail: full ? 3 : 1 << 20 };
        },
      },
    });
    await Promise.all(Array.from({ length: 100 }, () => store.ensureWritable()));
    expect(probes).toBeLessThanOrEqual(2);
    full = true;
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => store.ensureWritable()));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as StoreError).code === 'E_STORE_DISK_FULL')).toBe(
      true,
    );
    expect(unexpectedFiles(t.dir)).toEqual([]);
  });
});
