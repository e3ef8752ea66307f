/**
 * The emulator's clock: real time plus an offset the tests control, so access tokens (TTL), codes (30 s) and
 * refresh tokens (60 days, box-api.md §2 "Lifetimes and rotation") can be expired without waiting.
 */
export interface EmulatorClock {
  /** ms since the epoch as the emulator sees it. */
  now(): number;
  /** Moves the emulator's time forward (never backward). */
  advance(ms: number): number;
  /** The offset from real time, in ms. */
  offset(): number;
}

/** `frozen`: time moves only through advance() (deterministic expires_in in tests). */
export function createClock(frozen = false, realNow: () => number = Date.now): EmulatorClock {
  const start = realNow();
  let offset = 0;
  if (frozen) realNow = () => start;
  return {
    now: () => realNow() + offset,
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock.advance(ms): ms must be a finite number >= 0');
      offset += ms;
      return realNow() + offset;
    },
    offset: () => offset,
  };
}
