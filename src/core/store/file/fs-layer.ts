/**
 * The file-system calls the store makes, behind one small interface so tests can inject the failures that
 * are hard to cause for real (EIO on the folder fsync after the rename, reliability.md T6c).
 *
 * Two production layers, the same syscalls (FileStoreOptions.fileCalls chooses):
 *  - `direct` (directStoreFs; the CLI's one-shot commands): node:fs called synchronously for everything but
 *    the fsyncs. Each such call is a metadata change or a copy to or from the page cache on a local disk (the
 *    store warns on a network file system: store-dir.ts warnIfNetworkFs), microseconds of work. Through libuv's
 *    thread pool the same call cost 78-177 us of CPU and 89-274 us of wall time on this 2-core VM when made one
 *    after another (a hop to a worker thread and back; bench/fs-calls.js, BENCHMARKS.md sixth session), 6-15x
 *    the call itself, and a refresh makes its calls one after another. fsync stays asynchronous: it waits for
 *    the disk (milliseconds, seconds on a slow one), and the event loop keeps running meanwhile (timers,
 *    signals).
 *  - `thread-pool` (threadPoolStoreFs; the library's default, `serve`): node:fs's callback API. A server
 *    answering many requests at once keeps its event loop free, and its concurrent calls share the pool's
 *    wake-ups (16-26 us a call 200 at once); its concurrent reads and probes share one run (next-run.ts), which
 *    only happens while a run takes time. `serve` measured 25-35% more CPU per flow with direct calls. The
 *    store's one-at-a-time steps (its lock, the re-read and write under it, the per-user lock files, the
 *    writable check) are direct in both modes: each hop there is a turn of a busy loop (file-store.ts directFs).
 * Not node:fs/promises: loading it (and the stream and readline modules it pulls in) costs ~1 ms on every run,
 * a measurable share of `status --json` against `node -e 0` (issue 2, bench/startup). A call's error rejects
 * its promise in both layers (the same ErrnoException): callers and the test overrides see no difference.
 */
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';

/** The descriptor operations the store uses; node:fs/promises' FileHandle satisfies it too. */
export interface StoreFile {
  stat(): Promise<Stats>;
  chmod(mode: number): Promise<void>;
  readFile(): Promise<Buffer>;
  /** One read of up to `length` bytes at `position` (FileHandle's signature). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** Writes all of data from the current position. */
  writeFile(data: string | Uint8Array): Promise<void>;
  /** One write of up to `length` bytes at `position`; may be short (FileHandle's signature). */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface StatfsInfo {
  type: number;
  bsize: number;
  bavail: number;
}

export interface StoreFs {
  open(path: string, flags: number, mode?: number): Promise<StoreFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Recursive, like mkdir -p. */
  mkdir(path: string, mode: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  lstat(path: string): Promise<Stats>;
  /** Follows symbolic links (the store folder may be one: store-guard.ts). */
  stat(path: string): Promise<Stats>;
  /** A second name for a file: needs no data blocks (a pre-written lock file is linked into place). */
  link(existing: string, newPath: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  statfs(path: string): Promise<StatfsInfo>;
  /** fsync of a folder, so a rename inside it survives a power loss (fsync(2); renameio #11). */
  fsyncDir(path: string): Promise<void>;
}

export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fs.constants;

/** Create-exclusive, no symlink following: O_EXCL fails even on a dangling symlink (Node fs flags docs). */
export const CREATE_EXCLUSIVE = O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0);
/** O_NONBLOCK so a FIFO planted at the store path cannot hang the reader; fstat then refuses it. */
export const READ_NOFOLLOW = O_RDONLY | (O_NOFOLLOW ?? 0) | (O_NONBLOCK ?? 0);

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

/** One callback-style call as a promise (the fsyncs). */
function call<T = void>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

/** One synchronous call as a promise: its error (the same ErrnoException) becomes the rejection. */
function now<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * A StoreFile over a raw descriptor, called directly. close() runs once: a second close could hit a reused
 * descriptor number.
 */
function directFile(fd: number): StoreFile {
  let closing: Promise<void> | undefined;
  return {
    stat: () => now(() => fs.fstatSync(fd)),
    chmod: (mode) => now(() => fs.fchmodSync(fd, mode)),
    // One read of the whole file: fs.readFile would hop through the thread pool for every 512 KB chunk.
    readFile: () => now(() => fs.readFileSync(fd)),
    read: (buffer, offset, length, position) =>
      now(() => ({ bytesRead: fs.readSync(fd, buffer, offset, length, position) })),
    writeFile: (data) => now(() => fs.writeFileSync(fd, data)),
    write: (buffer, offset, length, position) =>
      now(() => ({ bytesWritten: fs.writeSync(fd, buffer, offset, length, position) })),
    truncate: (length) => now(() => fs.ftruncateSync(fd, length)),
    sync: () => call((cb) => fs.fsync(fd, cb)),
    close: () => (closing ??= now(() => fs.closeSync(fd))),
  };
}

export const directStoreFs: StoreFs = {
  open: (path, flags, mode) => now(() => directFile(fs.openSync(path, flags, mode))),
  rename: (from, to) => now(() => fs.renameSync(from, to)),
  unlink: (path) => now(() => fs.unlinkSync(path)),
  mkdir: (path, mode) => now(() => void fs.mkdirSync(path, { mode, recursive: true })),
  chmod: (path, mode) => now(() => fs.chmodSync(path, mode)),
  lstat: (path) => now(() => fs.lstatSync(path)),
  stat: (path) => now(() => fs.statSync(path)),
  link: (existing, newPath) => now(() => fs.linkSync(existing, newPath)),
  readdir: (path) => now(() => fs.readdirSync(path)),
  statfs: (path) =>
    now(() => {
      const s = fs.statfsSync(path);
      return { type: Number(s.type), bsize: Number(s.bsize), bavail: Number(s.bavail) };
    }),
  fsyncDir: (path) => syncFolder(now(() => directFile(fs.openSync(path, FOLDER_FLAGS)))),
};

const FOLDER_FLAGS = O_RDONLY | (O_DIRECTORY ?? 0);

/** fsync of a folder opened by either layer, closed whatever happens. */
async function syncFolder(opening: Promise<StoreFile>): Promise<void> {
  const dir = await opening;
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function openDescriptor(path: string, flags: number, mode?: number): Promise<number> {
  return call<number>((cb) => fs.open(path, flags, mode, cb));
}

/** The same over node:fs's callback API (the thread pool). */
function threadPoolFile(fd: number): StoreFile {
  let closing: Promise<void> | undefined;
  return {
    stat: () => call<Stats>((cb) => fs.fstat(fd, cb)),
    chmod: (mode) => call((cb) => fs.fchmod(fd, mode, cb)),
    // One synchronous read: fs.readFile would hop through the thread pool for every 512 KB chunk, and the
    // store is read whole anyway (a 10,000-user store is 5 MB: a few ms).
    readFile: () => now(() => fs.readFileSync(fd)),
    read: (buffer, offset, length, position) =>
      call<number>((cb) => fs.read(fd, buffer, offset, length, position, cb)).then((bytesRead) => ({ bytesRead })),
    writeFile: (data) => call((cb) => fs.writeFile(fd, data, cb)),
    write: (buffer, offset, length, position) =>
      call<number>((cb) => fs.write(fd, buffer, offset, length, position, cb)).then((bytesWritten) => ({
        bytesWritten,
      })),
    truncate: (length) => call((cb) => fs.ftruncate(fd, length, cb)),
    sync: () => call((cb) => fs.fsync(fd, cb)),
    close: () => (closing ??= call((cb) => fs.close(fd, cb))),
  };
}

export const threadPoolStoreFs: StoreFs = {
  open: async (path, flags, mode) => threadPoolFile(await openDescriptor(path, flags, mode)),
  rename: (from, to) => call((cb) => fs.rename(from, to, cb)),
  unlink: (path) => call((cb) => fs.unlink(path, cb)),
  mkdir: (path, mode) => call((cb) => fs.mkdir(path, { mode, recursive: true }, (err) => cb(err, undefined))),
  chmod: (path, mode) => call((cb) => fs.chmod(path, mode, cb)),
  lstat: (path) => call<Stats>((cb) => fs.lstat(path, cb)),
  stat: (path) => call<Stats>((cb) => fs.stat(path, cb)),
  link: (existing, newPath) => call((cb) => fs.link(existing, newPath, cb)),
  readdir: (path) => call<string[]>((cb) => fs.readdir(path, cb)),
  statfs: async (path) => {
    const s = await call<fs.StatsFs>((cb) => fs.statfs(path, cb));
    return { type: Number(s.type), bsize: Number(s.bsize), bavail: Number(s.bavail) };
  },
  fsyncDir: (path) => syncFolder(openDescriptor(path, FOLDER_FLAGS).then(threadPoolFile)),
};

/** How the file store calls node:fs (see the top of this file). */
export type FileCalls = 'direct' | 'thread-pool';

export function withFsOverrides(overrides: Partial<StoreFs> | undefined, calls: FileCalls = 'thread-pool'): StoreFs {
  const base = calls === 'direct' ? directStoreFs : threadPoolStoreFs;
  return overrides ? { ...base, ...overrides } : base;
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
