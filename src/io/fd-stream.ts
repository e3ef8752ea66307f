/**
 * stdout and stderr as plain write(2) calls when they are not terminals, without creating process.stdout or
 * process.stderr. Node builds those streams on first access, and for a pipe that loads net and the stream
 * modules: 2-4 ms, the largest single cost of `status --json` over `node -e 0` (issue 2, bench/startup).
 *
 * Writing the descriptor directly is what Node's own stream does for these kinds anyway: a file gets a
 * SyncWriteStream (writeSync), and pipes are written synchronously on Linux. Only descriptors whose kind is
 * known to be safe are written directly: a regular file, a pipe, a socket, or the null device. A terminal,
 * anything else, and Windows get the real stream. A write that fails with EAGAIN (a non-blocking pipe shared
 * with us) hands its unwritten rest, and every later write, to the real stream, so order is kept.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
import type { OutStream } from './output.js';

export interface FdStreamOptions {
  fd: number;
  /** The real stream (process.stdout / process.stderr); called at most once, only when needed. */
  stream(): NodeJS.WriteStream;
  /** The reader went away (EPIPE). Later writes are dropped. */
  onBrokenPipe(): void;
  platform?: NodeJS.Platform;
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
  if (!isPlainDescriptor(opts.fd, opts.platform)) return opts.stream();
  let real: NodeJS.WriteStream | undefined;
  let broken = false;
  return {
    isTTY: false,
    write(chunk: string): boolean {
      if (real) return real.write(chunk);
      if (broken) return true;
      const bytes = Buffer.from(chunk, 'utf8');
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(opts.fd, bytes, offset);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            real = opts.stream();
            return real.write(bytes.subarray(offset));
          }
          if (code === 'EPIPE') {
            broken = true;
            opts.onBrokenPipe();
            return true;
          }
          throw err;
        }
      }
      return true;
    },
    // write() only returns false once the real stream has taken over, so 'drain' only ever comes from it.
    once(event: 'drain', listener: () => void) {
      return real?.once(event, listener);
    },
  };
}
