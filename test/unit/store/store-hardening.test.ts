/**
 * Issue 15 items 6, 9 and 13: the store folder and its lock files are judged like OpenSSH's StrictModes judges
 * ~/.ssh (refuse, exit 2, say the exact fix), a corrupt store's message never quotes its content, a file that
 * fails validation is never modified, and a lock file is read with a size cap and never followed.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseStoreBytes, saveUserTokens, storeLockPath, userLockPath } from '../../../src/core/store/index.js';
import { findJsonError } from '../../../src/core/store/json-position.js';
import { PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, sha256, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const isRoot = process.geteuid?.() === 0;
const TOKEN = 'Zq8xK3vW9mPq7RtY2bN5cJ4hL6';

describe('corrupt-store messages quote nothing of the file (item 9)', () => {
  const cases = [
    `{"version": 1, "users": {"a@x.com": {"access_token": ${TOKEN}}}}`,
    `{\n  "version": 1,\n  "users": {\n    "a@x.com": {"refresh_token": "${TOKEN}" ${TOKEN}}\n  }\n}\n`,
    `{"version": 1, "users": {}} ${TOKEN}`,
    `{"version": 1, "users": {"a@x.com": {"refresh_token": "${TOKEN}`,
  ];
  for (const text of cases) {
    it(`reports line and column only: ${JSON.stringify(text.slice(-30))}`, () => {
      const err = (() => {
        try {
          parseStoreBytes(Buffer.from(text), '/s/tokens.json');
        } catch (e) {
          return e as Error & { exitCode: number };
        }
        throw new Error('expected a failure');
      })();
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(/invalid JSON at line \d+, column \d+/);
      for (let i = 0; i + 4 <= TOKEN.length; i++) expect(err.message).not.toContain(TOKEN.slice(i, i + 4));
      expect(JSON.stringify(err)).not.toContain(TOKEN.slice(0, 6));
    });
  }

  it('finds the line and column of the first error, and none in valid JSON, however deep', () => {
    expect(findJsonError('{\n  "a": 1,\n  "b": x\n}')).toEqual({ line: 3, column: 8, problem: 'unexpected character' });
    expect(findJsonError('{"a": [1, 2,]}')).toMatchObject({ line: 1, column: 13 });
    expect(findJsonError('{"a": "b')).toMatchObject({ line: 1, column: 7, problem: 'unterminated string' });
    expect(findJsonError('{"a":1} x')).toMatchObject({ column: 9 });
    expect(findJsonError('{"a":{"b":[true,false,null,-1.5e3,"\\u00e9"]}}')).toBeUndefined();
    expect(findJsonError(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toBeUndefined();
    expect(findJsonError('['.repeat(200_000))).toMatchObject({ problem: 'unexpected end of the file' });
  });
});

describe('a file that fails validation is not modified (item 9)', () => {
  it('a corrupt 0644 store hard-linked to an unrelated file keeps its mode and bytes', async () => {
    const other = join(t.dir, 'unrelated.txt');
    writeFileSync(other, 'not a store\n');
    chmodSync(other, 0o644);
    const { store, path } = makeStore(t.dir);
    linkSync(other, path);
    await expect(store.read()).rejects.toMatchObject({ code: 'E_STORE_CORRUPT', exitCode: 2 });
    await expect(store.update(() => 1)).rejects.toMatchObject({ exitCode: 2 });
    expect(statSync(other).mode & 0o777).toBe(0o644);
    expect(sha256(other)).toBe(sha256(path));
  });

  it('a valid 0644 store with a second hard link is left alone with a warning (not tightened)', async () => {
    const { store, path, warnings } = makeStore(t.dir);
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o644);
    linkSync(path, join(t.dir, 'backup.json'));
    await store.read();
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(warnings.join('\n')).toMatch(/has 2 hard links; its mode 0644 was left unchanged/);
  });
});

describe('the store folder is judged like OpenSSH StrictModes (item 6)', () => {
  for (const mode of [0o777, 0o770, 0o720, 0o702]) {
    it(`refuses a folder with mode 0${mode.toString(8)}: exit 2 "chmod 700 <dir>", for reads and writes alike`, async () => {
      const dir = join(t.dir, 'box-qc');
      mkdirSync(dir);
      const { store, path } = makeStore(dir);
      copyFileSync(PYTHON_BACKEND_FIXTURE, path);
      chmodSync(path, 0o600);
      chmodSync(dir, mode);
      const before = sha256(path);
      for (const op of [
        () => store.read(),
        () => store.update(() => 1),
        () => store.withUserLock('a@x.com', async () => 1),
        () => store.ensureWritable(),
      ]) {
        const err = await op().catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'E_STORE_DIR_UNSAFE', exitCode: 2 });
        expect((err as Error).message).toContain(`chmod 700 ${dir}`);
        expect((err as Error).message).not.toContain('\n');
      }
      expect(sha256(path)).toBe(before);
      expect(statSync(dir).mode & 0o777).toBe(mode);
      expect(unexpectedFiles(dir)).toEqual([]);
    });
  }

  it.runIf(isRoot)('refuses a folder owned by another non-root user: exit 2 "chown <user> <dir>"', async () => {
    const dir = join(t.dir, 'box-qc');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    const { store } = makeStore(dir);
    for (const op of [() => store.read(), () => store.update(() => 1)]) {
      const err = await op().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_STORE_DIR_OWNER', exitCode: 2 });
      expect((err as Error).message).toMatch(new RegExp(`owned by uid 65534.*chown \\S+ ${dir}`));
    }
  });

  it('a symlinked store folder works the same for reads and writes, judged by its target', async () => {
    const real = join(t.dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(t.dir, 'link');
    symlinkSync(real, link);
    const { store } = makeStore(link);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    await store.withUserLock('a@x.com', async () => 1);
    expect(Object.keys((await store.read()).users)).toEqual(['a@x.com']);
    chmodSync(real, 0o777);
    const next = makeStore(link).store;
    await expect(next.read()).rejects.toMatchObject({ code: 'E_STORE_DIR_UNSAFE', exitCode: 2 });
    await expect(next.update(() => 1)).rejects.toMatchObject({ code: 'E_STORE_DIR_UNSAFE', exitCode: 2 });
  });
});

describe('bad lock files: every store operation answers exit 2 naming the path (items 6, 13)', () => {
  type Variant = { name: string; plant(lock: string): void; root?: boolean };
  const variants: Variant[] = [
    {
      name: 'a 3 GiB lock file',
      plant: (lock) => {
        writeFileSync(lock, '');
        truncateSync(lock, 3 * 1024 ** 3);
      },
    },
    {
      name: 'a 700 MB lock file',
      plant: (lock) => {
        writeFileSync(lock, '');
        truncateSync(lock, 700 * 1024 ** 2);
      },
    },
    { name: 'a symlinked lock file', plant: (lock) => symlinkSync(join(t.dir, 'victim'), lock) },
    { name: 'a folder as lock file', plant: (lock) => mkdirSync(lock) },
    { name: 'a FIFO as lock file', plant: (lock) => execFileSync('mkfifo', [lock]) },
    {
      name: 'a lock file owned by another user',
      root: true,
      plant: (lock) => {
        writeFileSync(lock, JSON.stringify({ pid: 1, host: 'x', nonce: 'n' }), { mode: 0o600 });
        chownSync(lock, 65534, 65534);
      },
    },
  ];
  for (const v of variants) {
    for (const which of ['store', 'user'] as const) {
      it.runIf(!v.root || isRoot)(
        `${v.name} at the ${which} lock: read, update and withUserLock all exit 2`,
        async () => {
          const { store, path } = makeStore(t.dir);
          await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
          const lock = which === 'store' ? storeLockPath(path) : userLockPath(path, 'a@x.com');
          v.plant(lock);
          const before = sha256(path);
          const fresh = makeStore(t.dir).store;
          for (const op of [
            () => fresh.read(),
            () => fresh.update(() => 1),
            () => fresh.withUserLock('a@x.com', async () => 1),
          ]) {
            const err = await op().catch((e: unknown) => e);
            expect(err, String(err)).toMatchObject({ code: 'E_STORE_LOCK_UNSAFE', exitCode: 2 });
            expect((err as Error).message).toContain(lock);
            expect((err as Error).message).not.toContain('\n');
          }
          expect(sha256(path)).toBe(before);
        },
      );
    }
  }
});
