/** io/exit-flush.ts: stdout is written to the end, a stalled stderr gets a short grace at exit, then is abandoned. */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exitWhenFlushed } from '../../../src/io/exit-flush.js';

function fakeStream(queued: number) {
  const e = new EventEmitter() as EventEmitter & { writableLength: number; write(): boolean };
  e.writableLength = queued;
  e.write = () => true;
  return e;
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('exitWhenFlushed', () => {
  it('nothing queued on stderr: no timer, the event loop ends by itself', () => {
    const exit = vi.fn();
    exitWhenFlushed(fakeStream(0), fakeStream(0), exit, 2000);
    expect(vi.getTimerCount()).toBe(0);
    expect(exit).not.toHaveBeenCalled();
  });

  it('a stalled stderr is abandoned after the grace', async () => {
    const exit = vi.fn();
    exitWhenFlushed(fakeStream(0), fakeStream(5000), exit, 2000);
    await vi.advanceTimersByTimeAsync(1999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('stdout data still queued is written to the end first, however long that takes', async () => {
    const exit = vi.fn();
    const stdout = fakeStream(100);
    exitWhenFlushed(stdout, fakeStream(5000), exit, 2000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(exit).not.toHaveBeenCalled();
    stdout.writableLength = 0;
    stdout.emit('drain');
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('a stderr that caught up within the grace is not cut short: no exit', async () => {
    const exit = vi.fn();
    const stderr = fakeStream(5000);
    exitWhenFlushed(fakeStream(0), stderr, exit, 2000);
    stderr.writableLength = 0;
    await vi.advanceTimersByTimeAsync(5000);
    expect(exit).not.toHaveBeenCalled();
  });

  it('stdout that empties its queue without a drain event (under the high-water mark) still lets the process exit', async () => {
    // Review 3 #1b: 'drain' only follows a write() that returned false; a small document finishing late never emits it.
    const exit = vi.fn();
    const stdout = fakeStream(100);
    exitWhenFlushed(stdout, fakeStream(5000), exit, 2000);
    await vi.advanceTimersByTimeAsync(2500);
    expect(exit).not.toHaveBeenCalled();
    stdout.writableLength = 0;
    await vi.advanceTimersByTimeAsync(200);
    expect(exit).toHaveBeenCalledTimes(1);
  });
});
