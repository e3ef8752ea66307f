/**
 * stdout and stderr as plain write(2) calls when that can never block, without creating process.stdout or
 * process.stderr. Node builds those streams on first access, and for a pipe that loads net and the stream
 * modules: 2-4 ms, the largest single cost of `status --json` over `node -e 0` (issue 2, bench/startup).
 *
 * Only a regular file and the null device are written directly (writeSync, what Node's own stream does for
 * a file): a write there finishes at disk speed or fails. A pipe, a socket or a terminal can block for as
 * long as its reader likes (a stalled `2>&1 | logger`, Docker's blocking log mode, a terminal on XOFF), and
 * a blocking write stops the event loop: answers waiting in sockets are never read and rotated pairs never
 * saved (REVIEW-2 finding 2). So stdout to a pipe or socket is queued and written with fs.write, one write
 * in flight, without loading net (async-fd-writer.ts); stderr to a pipe or socket gets Node's stream,
 * non-blocking in libuv, built on the first write so a quiet run pays nothing, its queue bounded
 * (bounded-writes.ts) and abandoned shortly after the work is done if nobody reads it (exit-flush.ts); a
 * terminal gets Node's stream made non-blocking. Anything else, and Windows, get the real stream.
 * A direct write that fails with EAGAIN (a non-blocking descriptor shared with us) hands its unwritten rest,
 * and every later write, to the real stream, so order is kept. Any other failure (EPIPE, ENOSPC, EBADF,
 * EIO) is reported once through onWriteError and costs the lines, nothing else.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
import { createAsyncFdWriter } from './async-fd-writer.js';
import { boundWrites } from './bounded-writes.js';
import type { OutStream } from './output.js';

export interface FdStreamOptions {
  fd: number;
  /** The real stream (process.stdout / process.stderr); called at most once, only when needed. */
  stream(): NodeJS.WriteStream;
  /**
   * A write failed: EPIPE (the reader went away), ENOSPC, EBADF, EIO... Called once, with the errno code;
   * later writes are dropped. Output is best-effort (issue 15 item 1): a full log disk must not kill a refresh,
   * so nothing here ever throws or leaves an 'error' event without a listener.
   */
  onWriteError?(code: string): void;
  platform?: NodeJS.Platform;
  /** Write with write(2) whatever the descriptor is (tests: /dev/full fails as a full disk does). */
  direct?: boolean;
  /**
   * stderr: at most this many bytes wait in memory for a slow reader; later lines are dropped and counted
   * (one line reports them once the reader catches up). Unset for stdout: data is never dropped.
   */
  maxQueuedBytes?: number;
}

/** Whether fd can be written with a write(2) that never blocks for long: a regular file or /dev/null. */
export function isPlainDescriptor(fd: number, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'win32') return false;
  try {
    const st = fstatSync(fd);
    // Never a pipe, a socket or a terminal: their reader decides how long a write takes.
    if (st.isFile()) return true;
    // A terminal is a character device too; the null device (cron's `>/dev/null`) is the one we know.
    return st.isCharacterDevice() && st.rdev === statSync('/dev/null').rdev;
  } catch {
    return false; // closed descriptor, no /dev/null: let Node's stream decide
  }
}

/** A pipe or a socket: written through Node's (non-blocking) stream, created on the first write. */
function isPipeOrSocket(fd: number, platform: NodeJS.Platform): boolean {
  if (platform === 'win32') return false;
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

export function createFdStream(opts: FdStreamOptions): OutStream {
  let failed: string | undefined;
  const fail = (err: unknown) => {
    if (failed !== undefined) return;
    failed = errorCode(err);
    try {
      opts.onWriteError?.(failed);
    } catch {
      // A failing observer must not turn a lost line into a lost refresh either.
    }
  };
  // Node's streams report write failures as 'error' events, which throw (uncaught) without a listener.
  const guarded = (): NodeJS.WriteStream | undefined => {
    try {
      const s = opts.stream();
      if (typeof s.on === 'function') s.on('error', fail);
      nonBlocking(s);
      if (opts.maxQueuedBytes !== undefined && typeof s.once === 'function') {
        boundWrites(s, { limitBytes: opts.maxQueuedBytes, notice: droppedNotice });
      }
      return s;
    } catch (err) {
      fail(err);
      return undefined;
    }
  };
  if (opts.direct !== true && !isPlainDescriptor(opts.fd, opts.platform)) {
    if (isPipeOrSocket(opts.fd, opts.platform ?? process.platform)) {
      // stderr: Node's non-blocking stream, whose queue can be abandoned at exit (io/exit-flush.ts); stdout
      // (data, never abandoned): fs.write one chunk at a time, without loading net (io/async-fd-writer.ts).
      if (opts.maxQueuedBytes !== undefined) return lazyStream(guarded, () => failed, fail);
      return createAsyncFdWriter({ fd: opts.fd, fallback: guarded, fail, writeError: () => failed });
    }
    return guarded() ?? { isTTY: false, write: () => true };
  }
  let real: NodeJS.WriteStream | undefined;
  return {
    isTTY: false,
    get writeError() {
      return failed;
    },
    write(chunk: string): boolean {
      if (real) return writeReal(real, chunk, fail);
      if (failed !== undefined) return true;
      const bytes = Buffer.from(chunk, 'utf8');
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(opts.fd, bytes, offset);
        } catch (err) {
          const code = errorCode(err);
          if (code === 'EINTR') continue;
          if (code === 'EAGAIN') {
            real = guarded();
            return real ? writeReal(real, bytes.subarray(offset), fail) : true;
          }
          fail(err);
          return true;
        }
      }
      return true;
    },
    get writableLength() {
      return real?.writableLength ?? 0;
    },
    // write() only returns false once the real stream has taken over, so these events only ever come from it.
    once(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.once(event, listener);
    },
    removeListener(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.removeListener(event, listener);
    },
  };
}

/**
 * The real stream of a pipe or socket, built on the first write: a run that writes nothing there (`status
 * --json` on a quiet stderr) does not pay for net and the stream modules. Writes and back-pressure are the
 * real stream's own: stdout's 'drain' reaches out.data(), and what is queued is written before the process
 * ends (main.ts bounds only a stalled stderr at exit).
 */
function lazyStream(
  create: () => NodeJS.WriteStream | undefined,
  failed: () => string | undefined,
  fail: (err: unknown) => void,
): OutStream {
  let real: NodeJS.WriteStream | undefined;
  let tried = false;
  const stream = () => {
    if (!tried) {
      tried = true;
      real = create();
    }
    return real;
  };
  return {
    isTTY: false,
    get writeError() {
      return failed();
    },
    get destroyed() {
      return real?.destroyed === true;
    },
    get writableLength() {
      return real?.writableLength ?? 0;
    },
    write(chunk: string): boolean {
      const s = failed() === undefined ? stream() : undefined;
      return s ? writeReal(s, chunk, fail) : true;
    },
    once(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.once(event, listener);
    },
    removeListener(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.removeListener(event, listener);
    },
  };
}

/**
 * Node makes a terminal's writes blocking (tty.WriteStream), so a terminal that stops reading (XOFF, a
 * paused SSH session) would stop the event loop. libuv reopened our terminal descriptor for this stream, so
 * the non-blocking mode is ours alone, not the shell's; Node restores the descriptor's flags at exit.
 */
function nonBlocking(s: NodeJS.WriteStream): void {
  const handle = (s as unknown as { _handle?: { setBlocking?(blocking: boolean): number } })._handle;
  if (s.isTTY === true) handle?.setBlocking?.(false);
}

const droppedNotice = (lines: number) =>
  `box-qc: ${lines} line${lines === 1 ? '' : 's'} of output dropped: stderr was not being read\n`;

function writeReal(real: NodeJS.WriteStream, chunk: string | Uint8Array, fail: (err: unknown) => void): boolean {
  try {
    return real.write(chunk);
  } catch (err) {
    fail(err);
    return true;
  }
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}
