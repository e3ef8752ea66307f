/**
 * stdout and stderr as plain write(2) calls when they are not terminals, without creating process.stdout or
 * process.stderr. Node builds those streams on first access, and for a pipe that loads net and the stream
 * modules: 2-4 ms, the largest single cost of `status --json` over `node -e 0` (issue 2, bench/startup).
 *
 * Writing the descriptor directly is what Node's own stream does for these kinds anyway: a file gets a
 * SyncWriteStream (writeSync), and pipes are written synchronously on Linux. Only descriptors whose kind is
 * known to be safe are written directly: a regular file, a pipe, a socket, or the null device. A terminal,
 * anything else, and Windows get the real stream. A write that fails with EAGAIN (a non-blocking pipe shared
 * with us) hands its unwritten rest, and every later write, to the real stream, so order is kept. Any other
 * failure (EPIPE, ENOSPC, EBADF, EIO) is reported once through onWriteError and costs the lines, nothing else.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
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
}

/** Whether fd can be written with write(2) exactly as Node's stream would: file, pipe, socket, /dev/null. */
export function isPlainDescriptor(fd: number, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'win32') return false;
  try {
    const st = fstatSync(fd);
    if (st.isFile() || st.isFIFO() || st.isSocket()) return true;
    // A terminal is a character device too; the null device (cron's `>/dev/null`) is the one we know.
    return st.isCharacterDevice() && st.rdev === statSync('/dev/null').rdev;
  } catch {
    return false; // closed descriptor, no /dev/null: let Node's stream decide
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
      return s;
    } catch (err) {
      fail(err);
      return undefined;
    }
  };
  if (opts.direct !== true && !isPlainDescriptor(opts.fd, opts.platform)) return guarded() ?? { isTTY: false, write: () => true };
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
    // write() only returns false once the real stream has taken over, so these events only ever come from it.
    once(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.once(event, listener);
    },
    removeListener(event: 'drain' | 'close' | 'error', listener: () => void) {
      return real?.removeListener(event, listener);
    },
  };
}

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
