/**
 * The file store's audit log (issue 18): `<store stem>.history.jsonl` in the store's folder (tokens.json ->
 * tokens.history.jsonl), 0600, one JSON line per entry.
 *
 * - Each batch of whole lines is ONE write(2) on an O_APPEND descriptor: the kernel moves the offset and writes
 *   under the inode lock, so lines from concurrent processes never interleave (a regular file takes a whole write, short
 *   of a full disk; a cut line is skipped by the reader, and the next one still parses: entry.ts).
 * - Size-capped (HISTORY_MAX_BYTES) with ONE rotation to `.1`: the appender that finds the file full renames it
 *   under a small O_EXCL lock file, and only if the path is still the inode it measured, so two appenders
 *   never both rotate (the second would move the fresh file over the full one). A busy lock means another
 *   process is rotating: this line goes to the old file, slightly past the cap.
 * - A failure (full disk, read-only folder, a symlink planted at the path) costs the line and one warning
 *   per process, never the command: append() is called after the save it reports and never throws.
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../../errors.js';
import { buildEntry, parseEntryLine, selectEntries } from './entry.js';
import type { HistoryEntry, HistoryFacts, HistoryFilter, HistoryInput, HistoryLog } from './types.js';

/** 5 MiB: about 20,000 entries, months of a cron every 10 minutes over a few users; `.1` keeps as much again. */
export const HISTORY_MAX_BYTES = 5 * 1024 * 1024;
/** A rotation lock older than this was left by a killed process (a rotation is one rename). */
const STALE_ROTATE_LOCK_MS = 30_000;
/** The most one write(2) of queued lines carries (a burst of 600 lines from `serve` is ~150 KiB). */
const MAX_WRITE_BYTES = 64 * 1024;
const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

export interface FileHistoryOptions {
  facts: HistoryFacts;
  now?: () => number;
  /** One line for stderr, at most once per log. */
  onWarning?: (line: string) => void;
  /** Test hook: the cap (bytes). */
  maxBytes?: number;
}

/** The log's path for a store file: `.json` dropped, `.history.jsonl` added, in the same folder. */
export function historyPathFor(storePath: string): string {
  const base = basename(storePath);
  const stem = base.endsWith('.json') && base.length > 5 ? base.slice(0, -5) : base;
  return join(dirname(storePath), `${stem}.history.jsonl`);
}

export function openFileHistory(storePath: string, options: FileHistoryOptions): HistoryLog & { path: string } {
  const path = historyPathFor(storePath);
  const now = options.now ?? Date.now;
  const maxBytes = options.maxBytes ?? HISTORY_MAX_BYTES;
  let warned = false;
  // One append at a time, in call order: recordHistory() does not wait, so lines queue here (idle()). Lines
  // queued while an append runs go out together in the next one (one open and one write(2) for the batch, as
  // group commit does for saves): a `serve` finishing 200 flows at once queues 600 lines (issue 17 bench).
  let tail: Promise<void> = Promise.resolve();
  let queued: Buffer[] = [];
  const report = (err: unknown): void => {
    const code = (err as NodeJS.ErrnoException).code;
    // No folder: nothing was ever saved there (disconnect of nobody), so there is nothing to record.
    if (code === 'ENOENT' || warned) return;
    warned = true;
    try {
      options.onWarning?.(
        `could not write the history log ${path} (${code ?? (err instanceof Error ? err.message : 'error')}); the command itself is not affected`,
      );
    } catch {
      // a warning is best effort too
    }
  };
  const appendQueued = async (): Promise<void> => {
    const lines = queued;
    queued = [];
    // In pieces of at most a quarter of the cap, so the cap is still judged before each write (a whole burst
    // in one write would land past it: review of 0440c4c, finding 2).
    for (const piece of piecesOf(lines, Math.min(MAX_WRITE_BYTES, Math.floor(maxBytes / 4)))) {
      try {
        await appendLine(path, piece.length === 1 ? piece[0]! : Buffer.concat(piece), maxBytes, now);
      } catch (err) {
        if (piece.length === 1 || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          report(err);
          continue;
        }
        // A failed write (a moment of EMFILE in a busy `serve`) costs no more lines than it did one write per
        // line: each line of the piece is tried once more on its own (finding 3).
        for (const line of piece) await appendLine(path, line, maxBytes, now).catch(report);
      }
    }
  };
  return {
    path,
    append(input: HistoryInput): Promise<void> {
      try {
        queued.push(Buffer.from(`${JSON.stringify(buildEntry(input, options.facts, now))}\n`, 'utf8'));
      } catch (err) {
        report(err);
        return tail;
      }
      // The first line of a batch schedules its append; later ones join it until it starts.
      if (queued.length === 1) tail = tail.then(appendQueued);
      return tail;
    },
    idle: () => tail,
    async read(filter: HistoryFilter): Promise<HistoryEntry[]> {
      // Read your own writes: lines this process queued (recordHistory does not wait) are written first.
      await tail;
      const [old, current] = await Promise.all([readLog(`${path}.1`), readLog(path)]);
      const entries: HistoryEntry[] = [];
      for (const text of [old, current]) {
        for (const line of text.split('\n')) {
          const e = parseEntryLine(line);
          if (e) entries.push(e);
        }
      }
      return selectEntries(entries, filter);
    },
  };
}

/** Consecutive runs of whole lines of at most `maxBytes` each (a longer line alone). */
function piecesOf(lines: Buffer[], maxBytes: number): Buffer[][] {
  const pieces: Buffer[][] = [];
  let piece: Buffer[] = [];
  let size = 0;
  for (const line of lines) {
    if (piece.length > 0 && size + line.length > maxBytes) {
      pieces.push(piece);
      piece = [];
      size = 0;
    }
    piece.push(line);
    size += line.length;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

async function appendLine(path: string, line: Buffer, maxBytes: number, now: () => number): Promise<void> {
  let fd = await openAppend(path);
  try {
    const st = await call<fs.Stats>((cb) => fs.fstat(fd, cb));
    if (st.size > 0 && st.size + line.length > maxBytes && (await rotate(path, st.ino, now))) {
      await call((cb) => fs.close(fd, cb));
      fd = -1;
      fd = await openAppend(path);
    }
    const written = await call<number>((cb) => fs.write(fd, line, 0, line.length, null, cb));
    if (written !== line.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
  } finally {
    if (fd >= 0) fs.close(fd, () => {});
  }
}

/** Opens for appending; refuses a symlink (O_NOFOLLOW), a FIFO (O_NONBLOCK + the check) or anything not a file. */
async function openAppend(path: string): Promise<number> {
  const fd = await call<number>((cb) =>
    fs.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600, cb),
  );
  try {
    const st = await call<fs.Stats>((cb) => fs.fstat(fd, cb));
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    // Entries name who did what: as private as the store (a file created under a loose umask is tightened).
    if ((st.mode & 0o077) !== 0) await call((cb) => fs.fchmod(fd, 0o600, cb));
    return fd;
  } catch (err) {
    fs.close(fd, () => {});
    throw err;
  }
}

/** Renames the full log to `.1` once; true when the path now holds a new file (ours or another's rotation). */
async function rotate(path: string, measuredIno: number, now: () => number): Promise<boolean> {
  const lock = join(dirname(path), `.${basename(path)}.rotate.lock`);
  let lockFd: number;
  try {
    lockFd = await call<number>((cb) => fs.open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600, cb));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await removeIfStale(lock, now);
    return false;
  }
  try {
    const current = await call<fs.Stats>((cb) => fs.lstat(path, cb));
    if (current.ino !== measuredIno) return true;
    await call((cb) => fs.rename(path, `${path}.1`, cb));
    return true;
  } finally {
    fs.close(lockFd, () => {});
    await call((cb) => fs.unlink(lock, cb)).catch(() => undefined);
  }
}

async function removeIfStale(lock: string, now: () => number): Promise<void> {
  try {
    const st = await call<fs.Stats>((cb) => fs.lstat(lock, cb));
    if (now() - st.mtimeMs > STALE_ROTATE_LOCK_MS) await call((cb) => fs.unlink(lock, cb));
  } catch {
    // gone meanwhile, or not ours to remove: the next append tries again
  }
}

/** The log's text; a missing file is empty. Unreadable or not a regular file: StoreError (exit 2). */
async function readLog(path: string): Promise<string> {
  let fd: number;
  try {
    fd = await call<number>((cb) => fs.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, cb));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw unreadable(path, err);
  }
  try {
    const st = await call<fs.Stats>((cb) => fs.fstat(fd, cb));
    if (!st.isFile()) throw unreadable(path, new Error('not a regular file'));
    return await call<Buffer>((cb) => fs.readFile(fd, cb)).then((b) => b.toString('utf8'));
  } catch (err) {
    throw err instanceof StoreError ? err : unreadable(path, err);
  } finally {
    fs.close(fd, () => {});
  }
}

function unreadable(path: string, err: unknown): StoreError {
  const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : 'error');
  return new StoreError('E_HISTORY_UNREADABLE', path, `cannot read the history log ${path} (${code})`);
}

function call<T = void>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}
