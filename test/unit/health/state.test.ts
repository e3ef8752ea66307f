/** Issue 18: connection states and the pending-event queue, as pure functions on a StoreDocument. */
import { describe, expect, it } from 'vitest';
import {
  applyDead,
  applyHealthy,
  applyTemporaryFailure,
  connectionState,
  MAX_PENDING_EVENTS,
  pendingEvents,
} from '../../../src/core/health/state.js';
import { claimNext, settleDelivered, settleFailed, usersWithPending } from '../../../src/core/health/queue.js';
import { notifyCommandEnv } from '../../../src/core/health/notify-command.js';
import { loadNotifyConfig } from '../../../src/core/health/notify-config.js';
import { markNeedsReconnect, saveUserTokens, getUser } from '../../../src/core/store/document.js';
import type { StoreDocument, StoredUser } from '../../../src/core/store/types.js';

const EMAIL = 'alice@example.com';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;
let n = 0;
const stamp = (now: number) => ({ now, host: 'h1', eventId: `id-${++n}` });

function doc(extra: Partial<StoredUser> = {}): StoreDocument {
  return {
    version: 1,
    users: {
      [EMAIL]: {
        access_token: 'a',
        refresh_token: 'r',
        access_token_expires_at: '2026-01-01T01:00:00Z',
        connected_at: '2025-12-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
        refresh_token_issued_at: '2026-01-01T00:00:00Z',
        ...extra,
      },
    },
  };
}

const user = (d: StoreDocument) => getUser(d, EMAIL)!;
const events = (d: StoreDocument) => pendingEvents(user(d)).map((e) => e.event);

describe('connection states', () => {
  it('a record without health is healthy; needs_reconnect is dead whatever health says', () => {
    const d = doc();
    expect(connectionState(user(d), T0)).toBe('healthy');
    markNeedsReconnect(d, EMAIL, 'refresh_token_invalid', 'x', T0);
    expect(connectionState(user(d), T0)).toBe('dead');
  });

  it('healthy -> degraded (count and since) -> recovered, one event per change of state', () => {
    const d = doc();
    applyTemporaryFailure(d, EMAIL, 'box_5xx', stamp(T0));
    applyTemporaryFailure(d, EMAIL, 'network', stamp(T0 + 60_000));
    expect(user(d).health).toMatchObject({
      state: 'degraded',
      since: '2026-01-01T00:00:00Z',
      failures: 2,
      reason: 'network',
    });
    expect(events(d)).toEqual(['connection.degraded']);
    const before = user(d);
    saveUserTokens(d, EMAIL, { accessToken: 'a2', refreshToken: 'r2', expiresIn: 3600 }, undefined, T0 + 120_000);
    applyHealthy(d, EMAIL, before, 'refreshed', stamp(T0 + 120_000));
    expect(user(d).health).toMatchObject({ state: 'healthy', reason: 'refreshed' });
    expect(user(d).health?.failures).toBeUndefined();
    expect(events(d)).toEqual(['connection.degraded', 'connection.recovered']);
  });

  it('a healthy save leaves the record without health untouched; a new user starts with nothing to announce', () => {
    const d = doc();
    const before = user(d);
    saveUserTokens(d, EMAIL, { accessToken: 'a2', refreshToken: 'r2', expiresIn: 3600 }, undefined, T0);
    applyHealthy(d, EMAIL, before, 'refreshed', stamp(T0));
    expect(user(d).health).toBeUndefined();
    const fresh: StoreDocument = { version: 1, users: {} };
    saveUserTokens(fresh, 'bob@example.com', { accessToken: 'a', refreshToken: 'r', expiresIn: 3600 }, undefined, T0);
    applyHealthy(fresh, 'bob@example.com', undefined, 'connected', stamp(T0));
    expect(getUser(fresh, 'bob@example.com')!.health).toBeUndefined();
  });

  it('expiring when failures continue past 50 days; dead once; dead is not degraded by a later failure', () => {
    const d = doc();
    applyTemporaryFailure(d, EMAIL, 'box_5xx', stamp(T0 + 10 * DAY));
    applyTemporaryFailure(d, EMAIL, 'rate_limited', stamp(T0 + 51 * DAY));
    expect(connectionState(user(d), T0 + 51 * DAY)).toBe('expiring');
    expect(events(d)).toEqual(['connection.degraded', 'connection.expiring']);
    markNeedsReconnect(d, EMAIL, 'refresh_token_expired', 'x', T0 + 61 * DAY);
    applyDead(d, EMAIL, 'refresh_token_expired', stamp(T0 + 61 * DAY));
    applyDead(d, EMAIL, 'refresh_token_expired', stamp(T0 + 62 * DAY));
    applyTemporaryFailure(d, EMAIL, 'network', stamp(T0 + 62 * DAY));
    expect(user(d).health).toMatchObject({ state: 'dead', reason: 'refresh_token_expired' });
    expect(events(d)).toEqual(['connection.degraded', 'connection.expiring', 'connection.dead']);
  });

  it('keeps at most MAX_PENDING_EVENTS, the newest', () => {
    const d = doc();
    for (let i = 0; i < MAX_PENDING_EVENTS + 3; i++) {
      applyTemporaryFailure(d, EMAIL, 'network', stamp(T0 + i * 1000));
      const before = user(d);
      saveUserTokens(d, EMAIL, { accessToken: 'a', refreshToken: `r${i}`, expiresIn: 3600 }, undefined, T0 + i * 1000);
      applyHealthy(d, EMAIL, before, 'refreshed', stamp(T0 + i * 1000));
    }
    const pending = pendingEvents(user(d));
    expect(pending).toHaveLength(MAX_PENDING_EVENTS);
    expect(pending.at(-1)!.event).toBe('connection.recovered');
  });
});

describe('the pending queue', () => {
  function withOneEvent(): StoreDocument {
    const d = doc();
    markNeedsReconnect(d, EMAIL, 'refresh_token_invalid', 'x', T0);
    applyDead(d, EMAIL, 'refresh_token_invalid', { now: T0, host: 'h1', eventId: 'ev-1' });
    return d;
  }

  it('one claimant at a time; an expired lease is taken over; delivered events leave the queue', () => {
    const d = withOneEvent();
    expect(usersWithPending(d)).toEqual([EMAIL]);
    expect(claimNext(d, EMAIL, 'p1', T0, 60_000)).toMatchObject({ id: 'ev-1', attempts: 1, claimed_by: 'p1' });
    expect(claimNext(d, EMAIL, 'p2', T0 + 1000, 60_000)).toBeUndefined();
    expect(claimNext(d, EMAIL, 'p2', T0 + 61_000, 60_000)).toMatchObject({ id: 'ev-1', attempts: 2, claimed_by: 'p2' });
    settleDelivered(d, EMAIL, 'ev-1');
    expect(pendingEvents(user(d))).toEqual([]);
    expect(user(d).health).not.toHaveProperty('pending');
    expect(usersWithPending(d)).toEqual([]);
  });

  it('a failure drops only our own claim, keeps the id and remembers transports that took it', () => {
    const d = withOneEvent();
    claimNext(d, EMAIL, 'p1', T0);
    settleFailed(d, EMAIL, 'ev-1', 'p2', 'not mine', []);
    expect(pendingEvents(user(d))[0]!.claimed_by).toBe('p1');
    settleFailed(d, EMAIL, 'ev-1', 'p1', 'the webhook at h answered 500', ['command']);
    const e = pendingEvents(user(d))[0]!;
    expect(e).toMatchObject({
      id: 'ev-1',
      attempts: 1,
      delivered_to: ['command'],
      last_error: 'the webhook at h answered 500',
    });
    expect(e.claimed_by).toBeUndefined();
    expect(claimNext(d, EMAIL, 'p3', T0 + 1)).toMatchObject({ id: 'ev-1', attempts: 2 });
  });
});

describe('notifier configuration and the command environment', () => {
  it('the command gets the allow-list and the event facts, nothing else', () => {
    const env = notifyCommandEnv(
      {
        PATH: '/bin',
        HOME: '/home/q',
        LC_ALL: 'C',
        BOX_CLIENT_SECRET: 's',
        BOX_QC_NOTIFY_SECRET: 'n',
        BOX_QC_STORE: 'postgres://u:pw@h/db',
        PGPASSWORD: 'pw',
        GITHUB_TOKEN: 't',
      },
      { event: 'connection.dead', id: 'ev-1', email: EMAIL },
    );
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/home/q',
      LC_ALL: 'C',
      BOX_QC_EVENT: 'connection.dead',
      BOX_QC_EVENT_ID: 'ev-1',
      BOX_QC_EVENT_EMAIL: EMAIL,
    });
  });

  it('the flag wins over BOX_QC_NOTIFY_COMMAND; a URL needs its secret and https (http for loopback only)', () => {
    expect(loadNotifyConfig({}, undefined)).toBeUndefined();
    expect(loadNotifyConfig({ BOX_QC_NOTIFY_COMMAND: 'a' }, 'b')?.command).toBe('b');
    expect(() => loadNotifyConfig({ BOX_QC_NOTIFY_URL: 'https://x.example/h' }, undefined)).toThrow(
      /BOX_QC_NOTIFY_SECRET/,
    );
    expect(() =>
      loadNotifyConfig({ BOX_QC_NOTIFY_URL: 'http://x.example/h', BOX_QC_NOTIFY_SECRET: 's' }, undefined),
    ).toThrow(/BOX_QC_NOTIFY_URL must use https/);
    expect(
      loadNotifyConfig({ BOX_QC_NOTIFY_URL: 'http://127.0.0.1:9/h', BOX_QC_NOTIFY_SECRET: 's' }, undefined)?.webhook
        ?.url.host,
    ).toBe('127.0.0.1:9');
  });
});
