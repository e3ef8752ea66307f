/**
 * stdout to a pipe or a socket without blocking the event loop and without Node's stream (REVIEW-2 finding
 * 2). A blocking write(2) to a pipe whose reader stopped (`box-qc refresh --json | stalled`) stops
 * everything, refresh saves included; process.stdout would avoid that but loads net and the stream modules
 * (2-4 ms on `status --json | jq`, bench/startup). So chunks are queued in memory, in order, and written
 * with fs.write, at most one write in flight: a stalled reader holds one libuv threadpool thread, never the
 * event loop, and store I/O keeps the other threads. stdout is data: nothing is ever dropped, write() returns
 * false past the high-water mark and 'drain' follows once the queue is empty (out.data() waits on it), and
 * the pending write keeps the process alive until everything is written.
 * EAGAIN (the descriptor is non-blocking: shared with a stderr that Node's stream made so, `2>&1`) hands the
 * queue, in order, and every later write to the real stream. Any other failure is reported once (fail) and
 * costs the rest of the output.
 */
import { EventEmitter } from 'node:events';
import { write as fsWrite } from 'node:fs';
import type { OutStream } from './output.js';

export type WriteFn = (
  fd: number,
  buf: Buffer,
  cb: (err: NodeJS.ErrnoException | null, written: number) => void,
) => void;

export interface AsyncFdWriterOptions {
  fd: number;
  /** Queued bytes from which write() asks the caller to wait for 'drain'. */
  highWaterMark?: number;
  /** The real stream, for EAGAIN; called at most once. */
  fallback(): NodeJS.WriteStream | undefined;
  fail(err: unknown): void;
  /** The errno code of the first failed write (OutStream.writeError). */
  writeError?(): string | undefined;
  /** Tests: a write that never completes, or fails. */
  write?: WriteFn;
}

type Event = 'drain' | 'close' | 'error';

const defaultWrite: WriteFn = (fd, buf, cb) => fsWrite(fd, buf, 0, buf.length, null, cb);

export function createAsyncFdWriter(opts: AsyncFdWriterOptions): OutStream & { readonly writableLength: number } {
  const write = opts.write ?? defaultWrite;
  const hwm = opts.highWaterMark ?? 64 * 1024;
  const events = new EventEmitter();
  const queue: Buffer[] = [];
  let queued = 0;
  let inFlight = false;
  let needDrain = false;
  let dead = false;
  let real: NodeJS.WriteStream | undefined;

  const drainIfAsked = () => {
    if (!needDrain) return;
    needDrain = false;
    events.emit('drain');
  };
  const stop = (err: unknown) => {
    dead = true;
    queue.length = 0;
    queued = 0;
    opts.fail(err);
    events.emit('close'); // whoever waits for 'drain' would wait forever: the stream is gone
  };
  const handOver = () => {
    real = opts.fallback();
    if (!real) return stop(Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' }));
    for (const e of ['drain', 'close'] as const) real.on(e, () => events.emit(e));
    const rest = Buffer.concat(queue);
    queue.length = 0;
    queued = 0;
    if (rest.length === 0 || safeWrite(real, rest, opts.fail)) drainIfAsked();
  };
  const pump = () => {
    if (inFlight || dead || real || queue.length === 0) return;
    inFlight = true;
    const buf = queue[0]!;
    write(opts.fd, buf, (err, n) => {
      inFlight = false;
      if (err) {
        if (err.code === 'EINTR') return pump();
        if (err.code === 'EAGAIN') return handOver();
        return stop(err);
      }
      queued -= n;
      if (n < buf.length) queue[0] = buf.subarray(n);
      else queue.shift();
      if (queue.length > 0) pump();
      else drainIfAsked();
    });
  };

  return {
    isTTY: false,
    get writeError() {
      return opts.writeError?.();
    },
    get writableLength() {
      return real ? real.writableLength : queued;
    },
    get destroyed() {
      return dead || real?.destroyed === true;
    },
    write(chunk: string): boolean {
      if (real) return safeWrite(real, chunk, opts.fail);
      if (dead) return true;
      const buf = Buffer.from(chunk, 'utf8');
      if (buf.length === 0) return true;
      queue.push(buf);
      queued += buf.length;
      pump();
      if (queued < hwm) return true;
      needDrain = true;
      return false;
    },
    once(event: Event, listener: () => void) {
      return events.once(event, listener);
    },
    removeListener(event: Event, listener: () => void) {
      return events.removeListener(event, listener);
    },
  };
}

function safeWrite(real: NodeJS.WriteStream, chunk: string | Uint8Array, fail: (err: unknown) => void): boolean {
  try {
    return real.write(chunk);
  } catch (err) {
    fail(err);
    return true;
  }
}
