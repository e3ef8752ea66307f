/**
 * Disk full for real (issue 3; reliability.md E1/E2/T6): the store folder on a 64 KiB tmpfs, filled so the
 * save cannot complete. The old store must stay byte-identical and no temp may be left. Needs root for
 * mount(8); skips with a printed reason only where mounting is impossible.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, sha256 } from '../../unit/store/store-test-kit.js';
import { requireBuild, startWorker } from '../../helpers/store-procs.js';

const run = promisify(execFile);
let mnt: string;
let mounted = false;
let skipReason = '';

beforeAll(async () => {
  requireBuild();
  mnt = mkdtempSync(join(tmpdir(), 'boxqc-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', mnt]);
    mounted = true;
  } catch (err) {
    skipReason = `cannot mount a 64k tmpfs here (${(err as Error).message.split('\n')[0]}): disk-full tests skipped`;
    console.log(skipReason);
  }
});

afterAll(async () => {
  if (mounted) await run('umount', [mnt]).catch(() => run('umount', ['-l', mnt]));
  rmSync(mnt, { recursive: true, force: true });
});

/** Fills the file system, then frees `leave` bytes: room for a lock file but not for the new store. */
function fill(dir: string, leave: number): void {
  const reserve = join(dir, 'reserve');
  const r = openSync(reserve, 'w');
  writeSync(r, Buffer.alloc(leave, 1));
  closeSync(r);
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(1024, 7);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  unlinkSync(reserve);
}

describe('disk full', () => {
  it('a save that does not fit fails with "disk full", the old store byte-identical and no temp left', async (ctx) => {
    if (!mounted) ctx.skip(skipReason);
    const dir = join(mnt, 'store');
    const { store, path } = makeStore(dir);
    const now = Date.now();
    // ~20 KB store: its temp copy needs several pages, while a lock file needs one.
    await store.update((d) => {
      for (let i = 0; i < 60; i++) saveUserTokens(d, `user${i}@example.com`, pair(i), undefined, now);
    });
    fill(mnt, 8192);
    const before = sha256(path);

    await expect(store.ensureWritable()).rejects.toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    const err = await store
      .update((d) => saveUserTokens(d, 'new@example.com', pair(99), undefined, now))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STORE_DISK_FULL', exitCode: 1 });
    // It failed writing the temp copy (the lock fitted): the case write-file-atomic got wrong (E1).
    expect((err as { details?: Record<string, unknown> }).details?.step).toBe('writing the temp file');
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain(`disk full: free space on ${dir}`);
    expect(sha256(path)).toBe(before);
    expect(unexpectedFiles(dir)).toEqual([]);

    // The same from a separate process: exit 1, nothing changed.
    const r = await startWorker({ op: 'save', store: path, email: 'other@example.com' }).done;
    expect(r.code, JSON.stringify(r)).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'E_STORE_DISK_FULL' });
    expect(sha256(path)).toBe(before);
    expect(readdirSync(dir)).toEqual(['tokens.json']);
    rmSync(join(mnt, 'filler'));
  });
});
