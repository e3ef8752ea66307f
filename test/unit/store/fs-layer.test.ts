/**
 * The file store's two ways of calling node:fs (fs-layer.ts, sixth session): `direct` (synchronous calls but
 * the fsyncs, for one-shot commands) and `thread-pool` (callback calls, for `serve` and the library). Callers
 * must not be able to tell them apart: every call returns a promise (a failure rejects it, it never throws),
 * and a failure carries the same code, errno, syscall, path and message, so every exit code and message built
 * from it is the same (review of the direct layer).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CREATE_EXCLUSIVE,
  READ_NOFOLLOW,
  directStoreFs,
  threadPoolStoreFs,
  type StoreFs,
} from '../../../src/core/store/file/fs-layer.js';
import { tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
let d: string;
beforeEach(() => {
  t = tempDir();
  d = t.dir;
  writeFileSync(join(d, 'f'), 'x');
  symlinkSync(join(d, 'f'), join(d, 'link'));
  mkdirSync(join(d, 'sub'));
  execFileSync('mkfifo', [join(d, 'fifo')]);
});
afterEach(() => t.cleanup());

type Outcome =
  | { ok: true; value?: unknown }
  | { ok: false; code: unknown; errno: unknown; syscall: unknown; path: unknown; dest: unknown; message: string };

/** Runs `call` on a layer; a synchronous throw is reported as such (it must never happen). */
async function outcome(layer: StoreFs, call: (fs: StoreFs) => Promise<unknown>): Promise<Outcome | 'threw'> {
  let p: Promise<unknown>;
  try {
    p = call(layer);
  } catch {
    return 'threw';
  }
  try {
    const value = await p;
    if (value && typeof (value as { close?: unknown }).close === 'function')
      await (value as { close(): Promise<void> }).close();
    return { ok: true };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { dest?: string };
    return {
      ok: false,
      code: e.code,
      errno: e.errno,
      syscall: e.syscall,
      path: e.path,
      dest: e.dest,
      message: e.message,
    };
  }
}

const cases: Array<[string, (fs: StoreFs) => Promise<unknown>]> = [
  ['open, missing', (fs) => fs.open(join(d, 'nope'), READ_NOFOLLOW)],
  ['open, a symlink (O_NOFOLLOW)', (fs) => fs.open(join(d, 'link'), READ_NOFOLLOW)],
  ['open, exclusive on an existing file', (fs) => fs.open(join(d, 'f'), CREATE_EXCLUSIVE, 0o600)],
  ['open, a name too long', (fs) => fs.open(join(d, 'a'.repeat(300)), CREATE_EXCLUSIVE, 0o600)],
  ['open, under a file', (fs) => fs.open(join(d, 'f', 'x'), CREATE_EXCLUSIVE, 0o600)],
  ['open, a FIFO (non-blocking)', (fs) => fs.open(join(d, 'fifo'), READ_NOFOLLOW)],
  ['rename, missing', (fs) => fs.rename(join(d, 'nope'), join(d, 'x'))],
  ['rename, over a folder', (fs) => fs.rename(join(d, 'f'), join(d, 'sub'))],
  ['link, over an existing name', (fs) => fs.link(join(d, 'f'), join(d, 'link'))],
  ['unlink, missing', (fs) => fs.unlink(join(d, 'nope'))],
  ['unlink, a folder', (fs) => fs.unlink(join(d, 'sub'))],
  ['mkdir, under a file', (fs) => fs.mkdir(join(d, 'f', 'x'), 0o700)],
  ['chmod, missing', (fs) => fs.chmod(join(d, 'nope'), 0o600)],
  ['lstat, missing', (fs) => fs.lstat(join(d, 'nope'))],
  ['stat, a name too long', (fs) => fs.stat(join(d, 'a'.repeat(300)))],
  ['readdir, a file', (fs) => fs.readdir(join(d, 'f'))],
  ['statfs, missing', (fs) => fs.statfs(join(d, 'nope'))],
  ['fsyncDir, missing', (fs) => fs.fsyncDir(join(d, 'nope'))],
  ['fsyncDir, a FIFO', (fs) => fs.fsyncDir(join(d, 'fifo'))],
  [
    'write on a read-only descriptor',
    async (fs) => {
      const f = await fs.open(join(d, 'f'), READ_NOFOLLOW);
      try {
        await f.write(Buffer.from('y'), 0, 1, 0);
      } finally {
        await f.close();
      }
    },
  ],
  [
    'readFile of a folder',
    async (fs) => {
      const f = await fs.open(join(d, 'sub'), READ_NOFOLLOW);
      try {
        await f.readFile();
      } finally {
        await f.close();
      }
    },
  ],
  [
    // (No call after close: the thread-pool run turns the event loop, and the number may be reused meanwhile.)
    'close twice',
    async (fs) => {
      const f = await fs.open(join(d, 'f'), READ_NOFOLLOW);
      await f.close();
      await f.close(); // idempotent
    },
  ],
  [
    'a whole write, fsync, rename, folder fsync',
    async (fs) => {
      const f = await fs.open(join(d, 'new.tmp'), CREATE_EXCLUSIVE, 0o600);
      await f.writeFile(Buffer.from('{}\n'));
      await f.sync();
      await f.close();
      await fs.rename(join(d, 'new.tmp'), join(d, 'new'));
      await fs.fsyncDir(d);
      const r = await fs.open(join(d, 'new'), READ_NOFOLLOW);
      const text = (await r.readFile()).toString();
      await r.close();
      await fs.unlink(join(d, 'new'));
      if (text !== '{}\n') throw new Error(`read back ${text}`);
    },
  ],
];

describe('the direct and thread-pool file calls', () => {
  it.each(cases)('%s: the same outcome, as a promise, from both', async (_name, call) => {
    const direct = await outcome(directStoreFs, call);
    const pool = await outcome(threadPoolStoreFs, call);
    expect(direct).not.toBe('threw');
    expect(direct).toEqual(pool);
  });
});
