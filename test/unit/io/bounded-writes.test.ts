/** io/bounded-writes.ts: a stalled stderr reader costs bounded memory, order is kept, drops are counted once. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { boundWrites } from '../../../src/io/bounded-writes.js';

/** A Writable whose reader is stalled until release() is called. */
function stalled() {
  const written: string[] = [];
  let held: (() => void)[] = [];
  let flowing = false;
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk.toString('utf8'));
      if (flowing) cb();
      else held.push(cb);
    },
  });
  const release = async () => {
    flowing = true;
    for (const cb of held.splice(0)) cb();
    await new Promise((r) => setImmediate(r));
  };
  return { stream, written, release, reset: () => (held = []) };
}

describe('boundWrites', () => {
  it('keeps every line in order while under the bound', async () => {
    const s = stalled();
    const stats = boundWrites(s.stream, { limitBytes: 1000, notice: (n) => `dropped ${n}\n` });
    for (let i = 0; i < 20; i += 1) s.stream.write(`line ${i}\n`);
    await s.release();
    expect(s.written.join('')).toBe(Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join(''));
    expect(stats.droppedTotal).toBe(0);
  });

  it('past the bound drops whole chunks, counts their lines, and reports them once after the drain, in order', async () => {
    const s = stalled();
    const stats = boundWrites(s.stream, { limitBytes: 20, notice: (n) => `dropped ${n}\n` });
    expect(s.stream.write('aaaaaaaaa\n')).toBe(true); // 10 bytes in flight, under the 16-byte high-water mark
    s.stream.write('bbbbbbbbb\n'); // 20 bytes: at the bound, kept
    expect(s.stream.write('c\nc\n')).toBe(true); // over: dropped, never a back-pressure signal to the caller
    s.stream.write('d\n');
    expect(s.stream.writableLength).toBeLessThanOrEqual(20);
    expect(stats.pendingDropped).toBe(3);
    expect(stats.droppedTotal).toBe(3);
    await s.release();
    expect(s.written.join('')).toBe('aaaaaaaaa\nbbbbbbbbb\ndropped 3\n');
    expect(stats.pendingDropped).toBe(0);
    s.stream.write('e\n');
    await new Promise((r) => setImmediate(r));
    expect(s.written.join('')).toBe('aaaaaaaaa\nbbbbbbbbb\ndropped 3\ne\n');
    expect(stats.droppedTotal).toBe(3);
  });

  it('counts UTF-8 bytes, not characters, against the bound', () => {
    const s = stalled();
    const stats = boundWrites(s.stream, { limitBytes: 10, notice: (n) => `dropped ${n}\n` });
    s.stream.write('✓✓✓\n'); // 10 bytes
    s.stream.write('x');
    expect(stats.droppedTotal).toBe(1);
  });
});
