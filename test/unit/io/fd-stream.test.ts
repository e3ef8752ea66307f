/** io/fd-stream.ts: which descriptors are written directly, and what a direct write does. */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, read, readFileSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFdStream, isPlainDescriptor } from '../../../src/io/fd-stream.js';

let dir: string;
const open: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-fd-'));
});
afterEach(() => {
  for (const fd of open.splice(0)) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});
const openFd = (path: string, flags: string) => {
  const fd = openSync(path, flags);
  open.push(fd);
  return fd;
};
const never = () => {
  throw new Error('the real stream must not be created');
};

describe.skipIf(process.platform === 'win32')('isPlainDescriptor', () => {
  it('a regular file and the null device are written directly', () => {
    expect(isPlainDescriptor(openFd(join(dir, 'out'), 'w'))).toBe(true);
    expect(isPlainDescriptor(openFd('/dev/null', 'w'))).toBe(true);
  });

  it('a pipe is never written with write(2): its reader decides how long that blocks (REVIEW-2 finding 2)', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(isPlainDescriptor(openFd(fifo, 'r+'))).toBe(false);
  });

  it('another character device (as a terminal is), a closed descriptor and Windows get the real stream', () => {
    expect(isPlainDescriptor(openFd('/dev/zero', 'w'))).toBe(false);
    const fd = openSync(join(dir, 'closed'), 'w');
    closeSync(fd);
    expect(isPlainDescriptor(fd)).toBe(false);
    expect(isPlainDescriptor(openFd(join(dir, 'out'), 'w'), 'win32')).toBe(false);
  });
});

describe.skipIf(process.platform === 'win32')('createFdStream', () => {
  it('writes every byte of each chunk in order, UTF-8, without creating the real stream', () => {
    const path = join(dir, 'out');
    const s = createFdStream({ fd: openFd(path, 'w'), stream: never, onWriteError: never });
    expect(s.isTTY).toBe(false);
    const big = 'x'.repeat(300_000);
    expect(s.write('héllo ✓\n')).toBe(true);
    expect(s.write(big)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`héllo ✓\n${big}`);
  });

  it('hands a descriptor it does not know to the real stream', () => {
    const real = { isTTY: true, write: () => true } as unknown as NodeJS.WriteStream;
    expect(createFdStream({ fd: openFd('/dev/zero', 'w'), stream: () => real, onWriteError: never })).toBe(real);
  });

  it('an error other than EAGAIN is reported once, never thrown (output is best-effort, issue 15 item 1)', () => {
    const fd = openSync(join(dir, 'ro'), 'w');
    closeSync(fd);
    const ro = openFd(join(dir, 'ro'), 'r');
    const codes: string[] = [];
    const s = createFdStream({ fd: ro, stream: never, onWriteError: (c) => codes.push(c) });
    expect(s.write('x')).toBe(true);
    expect(s.write('y')).toBe(true);
    expect(codes).toEqual(['EBADF']);
  });

  it('stdout to a pipe nobody reads: writes return at once, without the real stream; everything arrives in order once read', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const fd = openFd(fifo, 'r+'); // a reader that does not read yet: 64 KiB fill up, then write(2) would block
    const s = createFdStream({ fd, stream: never, onWriteError: never });
    const big = 'x'.repeat(200_000);
    const t0 = Date.now();
    expect(s.write('first\n')).toBe(true);
    expect(s.write(big)).toBe(false); // back-pressure reaches out.data()
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(s.writableLength).toBeGreaterThan(65_536);
    const drained = new Promise<void>((resolve) => s.once?.('drain', resolve));
    const want = Buffer.byteLength(`first\n${big}`);
    const got: Buffer[] = [];
    let n = 0;
    while (n < want) {
      const buf = Buffer.alloc(65_536);
      const r = await new Promise<number>((resolve, reject) =>
        read(fd, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))),
      );
      got.push(buf.subarray(0, r));
      n += r;
    }
    await drained;
    expect(Buffer.concat(got).toString('utf8')).toBe(`first\n${big}`);
    expect(s.writableLength).toBe(0);
  });

  it('stderr to a pipe: the real stream, built on the first write (a quiet run pays nothing), bounded', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    let created = 0;
    const real = new PassThrough({ highWaterMark: 16 });
    const s = createFdStream({
      fd: openFd(fifo, 'r+'),
      stream: () => ((created += 1), real as unknown as NodeJS.WriteStream),
      onWriteError: never,
      maxQueuedBytes: 100,
    });
    expect(created).toBe(0);
    expect(s.write('first\n')).toBe(true);
    expect(created).toBe(1);
    s.write('y'.repeat(200)); // over the bound: dropped
    expect(real.read()?.toString()).toBe('first\n');
  });
});
