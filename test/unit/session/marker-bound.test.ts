/**
 * The young-marker bound (issue 15 D) covers the owner's whole critical section: its POST bound, then its save
 * retry budget (REVIEW-1 finding 1: up to 60 s), then the margin. With the bound at POST + margin only, a
 * PostgreSQL owner that lost its session lock and was still retrying its save 50 s after its POST would see
 * its refresh token replayed by a second process: a double spend (family revocation kills the grant).
 */
import { describe, expect, it } from 'vitest';
import { markerBoundMs, mustWaitFor } from '../../../src/core/session-marker.js';
import { DEFAULT_SAVE_BUDGET_MS } from '../../../src/core/session-save.js';
import type { Session } from '../../../src/core/session.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { NOW } from './session-kit.js';

const session = (over: Partial<Session> = {}) =>
  ({ pid: 1, host: 'h1', now: () => NOW, isPidAlive: () => true, ...over }) as Session;
const marker = (ageMs: number) => ({ pid: 2, host: 'h1', generation: 0, since: formatTimestamp(NOW - ageMs) });

describe("the young-marker bound includes the owner's save budget", () => {
  it("a live owner's marker 50 s old (POST bound 30 s + margin 15 s passed, save budget not) is still waited for", () => {
    expect(mustWaitFor(session(), marker(50_000))).toBe(true);
  });

  it('bound = POST bound + save budget + margin, each from the session', () => {
    expect(markerBoundMs(session())).toBe(30_000 + DEFAULT_SAVE_BUDGET_MS + 15_000);
    expect(markerBoundMs(session({ refreshTimeoutMs: 2000, saveBudgetMs: 1500, markerMarginMs: 500 }))).toBe(4000);
  });

  it('past the whole bound it is replayed', () => {
    expect(mustWaitFor(session(), marker(30_000 + DEFAULT_SAVE_BUDGET_MS + 16_000))).toBe(false);
  });
});
