/**
 * The deadline's rules on their own (core/http/deadline.ts), with the event loop blocked past the deadline as
 * a paused process finds it: an overdue deadline is judged only after Node polled for I/O, unless the
 * request never got connected (then aborting at once provably sends nothing, while polling first could
 * write it just to abandon it).
 */
import { describe, expect, it } from 'vitest';
import { startDeadline } from '../../../src/core/http/deadline.js';

const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What the signal says in the same timers phase as the overdue deadline (a timer due 1 ms after it). */
const abortedInTimersPhase = (d: { signal: AbortSignal }, ms: number) =>
  new Promise<boolean>((resolve) => setTimeout(() => resolve(d.signal.aborted), ms + 1));

describe('startDeadline', () => {
  it('overdue and never connected (a pool that reports connect): aborts at once, before any poll', async () => {
    const d = startDeadline(20, { abortUnconnected: true });
    const seen = abortedInTimersPhase(d, 20);
    block(100);
    expect(await seen).toBe(true);
    expect(d.expired).toBe(true);
    d.dispose();
  });

  it('overdue and connected: not aborted before Node has polled, aborted after when nothing arrived', async () => {
    const d = startDeadline(20, { abortUnconnected: true });
    d.connected();
    const seen = abortedInTimersPhase(d, 20);
    block(100);
    expect(await seen).toBe(false);
    await sleep(30);
    expect(d.signal.aborted).toBe(true);
    expect(d.expired).toBe(true);
  });

  it('overdue, and the answer is read in that poll: kept alive, then bounded by the idle limit', async () => {
    const d = startDeadline(20, { abortUnconnected: true, idleMs: 60 });
    d.connected();
    // Bytes read in the poll right after the overdue timers, as after SIGCONT.
    setTimeout(() => setImmediate(() => d.received()), 21);
    block(100);
    await sleep(30);
    expect(d.signal.aborted).toBe(false);
    await sleep(200);
    expect(d.signal.aborted).toBe(true);
  });

  it('a pool that does not report connect (undici) is always judged after a poll', async () => {
    const d = startDeadline(20);
    const seen = abortedInTimersPhase(d, 20);
    block(100);
    expect(await seen).toBe(false);
    await sleep(30);
    expect(d.expired).toBe(true);
  });

  it('while the answer keeps arriving it is read on, up to the hard stop', async () => {
    const d = startDeadline(50, { idleMs: 40, graceMs: 100 });
    const drip = setInterval(() => d.received(), 10);
    await sleep(120);
    expect(d.signal.aborted).toBe(false);
    await sleep(120);
    clearInterval(drip);
    expect(d.signal.aborted).toBe(true);
  });
});
