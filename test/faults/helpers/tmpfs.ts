/**
 * Small file systems for the disk-full cases (reliability.md T6): a tmpfs mounted for one test (root only;
 * CI runs as root) and a filler that takes every free block.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach } from 'vitest';

const run = promisify(execFile);

export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
}

export async function unmount(dir: string): Promise<void> {
  await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
}

/** Why a tmpfs cannot be used here, or undefined when it can. */
export async function tmpfsUnavailable(scratch: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: mounting a tmpfs needs root (CI runs as root)';
  const probe = join(scratch, 'tmpfs-probe');
  try {
    await mountTmpfs(probe, '64k');
    await unmount(probe);
    await rm(probe, { recursive: true, force: true });
    return undefined;
  } catch (err) {
    return `mount -t tmpfs failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

/** Writes `filler` until the file system refuses (ENOSPC): page by page, then byte by byte. */
export async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const fh = await open(path, 'a');
  try {
    for (const size of [65536, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x61);
      for (let i = 0; i < 100_000; i++) {
        try {
          await fh.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await fh.close();
  }
  return path;
}

/**
 * A fresh tmpfs of `size` for each test of the file (root only): `tmpfs.dir` is its mount point, and
 * `tmpfs.skipReason` says why none could be mounted (the test then skips with it).
 */
export function tmpfsPerTest(prefix: string, size: string, what: string): { dir: string; skipReason: string } {
  const state = { dir: '', skipReason: '' };
  beforeEach(async () => {
    state.skipReason = '';
    state.dir = mkdtempSync(join(tmpdir(), prefix));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', state.dir]);
    } catch (err) {
      state.skipReason = `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}): ${what} skipped`;
      console.log(state.skipReason);
    }
  });
  afterEach(async () => {
    if (!state.skipReason) await unmount(state.dir);
    rmSync(state.dir, { recursive: true, force: true });
  });
  return state;
}
