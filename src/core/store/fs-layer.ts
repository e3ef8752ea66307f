/**
 * The file-system calls the store makes, behind one small interface so tests can inject the failures that
 * are hard to cause for real (EIO on the folder fsync after the rename, reliability.md T6c). Production
 * uses node:fs/promises directly.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export interface StatfsInfo {
  type: number;
  bsize: number;
  bavail: number;
}

export interface StoreFs {
  open(path: string, flags: number, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Recursive, like mkdir -p. */
  mkdir(path: string, mode: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  lstat(path: string): Promise<import('node:fs').Stats>;
  readdir(path: string): Promise<string[]>;
  statfs(path: string): Promise<StatfsInfo>;
  /** fsync of a folder, so a rename inside it survives a power loss (fsync(2); renameio #11). */
  fsyncDir(path: string): Promise<void>;
}

export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

/** Create-exclusive, no symlink following: O_EXCL fails even on a dangling symlink (Node fs flags docs). */
export const CREATE_EXCLUSIVE = O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0);
/** O_NONBLOCK so a FIFO planted at the store path cannot hang the reader; fstat then refuses it. */
export const READ_NOFOLLOW = O_RDONLY | (O_NOFOLLOW ?? 0) | (O_NONBLOCK ?? 0);

export const nodeStoreFs: StoreFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: async (path, mode) => {
    await fsp.mkdir(path, { mode, recursive: true });
  },
  chmod: (path, mode) => fsp.chmod(path, mode),
  lstat: (path) => fsp.lstat(path),
  readdir: (path) => fsp.readdir(path),
  statfs: async (path) => {
    const s = await fsp.statfs(path);
    return { type: Number(s.type), bsize: Number(s.bsize), bavail: Number(s.bavail) };
  },
  fsyncDir: async (path) => {
    const fh = await fsp.open(path, O_RDONLY | (O_DIRECTORY ?? 0));
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

export function withFsOverrides(overrides: Partial<StoreFs> | undefined): StoreFs {
  return overrides ? { ...nodeStoreFs, ...overrides } : nodeStoreFs;
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
