/** io/async-fd-writer.ts: stdout to a pipe, queued in order, one write in flight, back-pressure, EAGAIN hand-over. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAsyncFdWriter, type WriteFn } from '../../../src/io/async-fd-writer.js';

/** A descriptor whose writes complete only when the test says so, at most `chunk` bytes each. */
function manualFd(chunk = Infinity) {
  const out: string[] = [];
  const pending: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failWith: string | undefined;
  const write: WriteFn = (_fd, buf, cb) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    pending.push(() => {
      inFlight -= 1;
      if (failWith) return cb(Object.assign(new Error(failWith), { code: failWith }), 0);
      const n = Math.min(chunk, buf.length);
      out.push(buf.subarray(0, n).toString('utf8'));
      cb(null, n);
    });
  };
  const step = () => pending.shift()?.();
  const flush = () => {
    while (pending.length > 0) step();
  };
  return {
    write,
    out,
    step,
    flush,
    fail: (code: string) => (failWith = code),
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

const noFallback = () => {
  throw new Error('no fallback expected');
};

describe('createAsyncFdWriter', () => {
  it('keeps order across partial writes, one write in flight, and never blocks the caller', () => {
    const fd = manualFd(3);
    const errors: unknown[] = [];
    const w = createAsyncFdWriter({ fd: 1, write: fd.write, fallback: noFallback, fail: (e) => errors.push(e) });
    for (let i = 0; i < 10; i += 1) expect(w.write(`line ${i}\n`)).toBe(true);
    expect(w.writableLength).toBe(70);
    fd.flush();
    expect(fd.out.join('')).toBe(Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(''));
    expect(fd.maxInFlight).toBe(1);
    expect(w.writableLength).toBe(0);
    expect(errors).toEqual([]);
  });

  it('past the high-water mark write() returns false and "drain" follows once everything is written (data is never dropped)', () => {
    const fd = manualFd();
    const w = createAsyncFdWriter({ fd: 1, write: fd.write, fallback: noFallback, fail: () => {}, highWaterMark: 10 });
    expect(w.write('12345')).toBe(true);
    expect(w.write('67890')).toBe(false);
    let drained = 0;
    w.once?.('drain', () => (drained += 1));
    fd.step();
    expect(drained).toBe(0);
    fd.step();
    expect(drained).toBe(1);
    expect(fd.out.join('')).toBe('1234567890');
  });

  it('EAGAIN hands the queue, in order, and every later write to the real stream', () => {
    const fd = manualFd();
    const real = new PassThrough();
    const w = createAsyncFdWriter({
      fd: 1,
      write: fd.write,
      fallback: () => real as unknown as NodeJS.WriteStream,
      fail: () => {},
    });
    w.write('a');
    w.write('b');
    fd.fail('EAGAIN');
    fd.step();
    w.write('c');
    expect(real.read()?.toString()).toBe('abc');
  });

  it('another error is reported once, drops the rest, and releases whoever waits for "drain"', () => {
    const fd = manualFd();
    const errors: string[] = [];
    const w = createAsyncFdWriter({
      fd: 1,
      write: fd.write,
      fallback: noFallback,
      fail: (e) => errors.push((e as NodeJS.ErrnoException).code!),
      writeError: () => errors[0],
      highWaterMark: 1,
    });
    expect(w.write('a')).toBe(false);
    let released = false;
    w.once?.('close', () => (released = true));
    fd.fail('ENOSPC');
    fd.step();
    expect(w.write('b')).toBe(true);
    fd.flush();
    expect(errors).toEqual(['ENOSPC']);
    expect(released).toBe(true);
    expect(w.writeError).toBe('ENOSPC');
    expect(w.destroyed).toBe(true);
  });
});
