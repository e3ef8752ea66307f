/**
 * Connection states (issue 18): what `connectionState()` says a record is, and the pure transitions that
 * the refresh protocol and connect apply inside the SAME store update() as the tokens, the needs_reconnect
 * mark or the failure they follow. A change of state appends one pending event (health.pending) in that
 * update, so a transition is durable before anyone announces it; core/health/deliver.ts announces it.
 *
 * `since` is when the current state began. A record without `health` is healthy (every record written
 * before issue 18). `dead` always follows needs_reconnect, whatever health says: a record marked by an
 * older version, or by another writer, is still dead.
 */
import { randomUUID } from 'node:crypto';
import { getUser } from '../store/document.js';
import { formatTimestamp, normalizeStoreEmail, parseTimestamp } from '../store/format.js';
import type { StoreDocument, StoredUser } from '../store/types.js';
import type {
  HealthEventName,
  HealthRecord,
  HealthStamp,
  HealthState,
  PendingHealthEvent,
  TemporaryKind,
} from './types.js';

/** Box kills a refresh token unused for 60 days; a connection that cannot refresh is `expiring` from day 50. */
export const EXPIRING_AFTER_MS = 50 * 86_400_000;

/**
 * Transitions waiting per user, oldest first. Nobody may be delivering (no notifier configured): then the
 * newest are kept, so whoever configures one later hears the current story, not a year of it.
 */
export const MAX_PENDING_EVENTS = 10;
/** Events a notifier already tried are kept past MAX_PENDING_EVENTS ("retried at least once"), up to this. */
export const MAX_TRIED_EVENTS = 100;

/**
 * The queue after an append: over MAX_PENDING_EVENTS, the oldest never-tried events go first (nobody may be
 * listening); an event a notifier already tried (attempts > 0: one is configured and failing) is kept until
 * MAX_TRIED_EVENTS, so a receiver down for a day still hears of the death when it is back (review finding 5).
 */
export function capPending(events: PendingHealthEvent[]): PendingHealthEvent[] {
  const out = [...events];
  while (out.length > MAX_PENDING_EVENTS) {
    const untried = out.findIndex((e, i) => i < out.length - 1 && (e.attempts ?? 0) === 0);
    if (untried < 0) break;
    out.splice(untried, 1);
  }
  return out.slice(-MAX_TRIED_EVENTS);
}

/** A stamp for one update(): taken before it, so a mutation that runs again gives the same event. */
export function healthStamp(now: number, host: string): HealthStamp {
  return { now, host, eventId: randomUUID() };
}

const STATES: readonly string[] = ['healthy', 'degraded', 'dead', 'expiring'];

/** The record's health, if it is one box-qc could have written (another writer's junk counts as absent). */
export function healthOf(user: StoredUser): HealthRecord | undefined {
  const h = user.health as unknown;
  if (typeof h !== 'object' || h === null) return undefined;
  const r = h as Record<string, unknown>;
  if (typeof r.state !== 'string' || !STATES.includes(r.state) || typeof r.since !== 'string') return undefined;
  return h as HealthRecord;
}

export function pendingEvents(user: StoredUser): PendingHealthEvent[] {
  const p = healthOf(user)?.pending;
  return Array.isArray(p) ? p.filter((e) => typeof e === 'object' && e !== null && typeof e.id === 'string') : [];
}

function refreshTokenAgeMs(user: StoredUser, now: number): number | undefined {
  const issued = parseTimestamp(user.refresh_token_issued_at) ?? parseTimestamp(user.updated_at);
  return issued === undefined ? undefined : now - issued;
}

function aged(user: StoredUser, now: number): boolean {
  const age = refreshTokenAgeMs(user, now);
  return age !== undefined && age > EXPIRING_AFTER_MS;
}

/** The state of a record at `now` (metrics, status, the transitions below). */
export function connectionState(user: StoredUser, now: number): HealthState {
  if (user.needs_reconnect) return 'dead';
  const h = healthOf(user);
  if (!h || h.state === 'healthy' || h.state === 'dead') return 'healthy';
  return aged(user, now) ? 'expiring' : 'degraded';
}

/** When the current state began: health.since, else the needs_reconnect mark, else the first connect. */
export function connectionSince(user: StoredUser): string | null {
  const h = healthOf(user);
  if (user.needs_reconnect && h?.state !== 'dead') return user.needs_reconnect.at;
  return h?.since ?? user.connected_at ?? null;
}

const EVENT_FOR: Record<HealthState, HealthEventName> = {
  healthy: 'connection.recovered',
  degraded: 'connection.degraded',
  dead: 'connection.dead',
  expiring: 'connection.expiring',
};

function put(doc: StoreDocument, email: string, user: StoredUser, health: HealthRecord): StoredUser {
  const next: StoredUser = { ...user, health };
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

/** The new health record for a change of state, with its one pending event appended. */
function changed(
  user: StoredUser,
  from: HealthState,
  state: HealthState,
  reason: string | null,
  stamp: HealthStamp,
  extra: Pick<HealthRecord, 'failures' | 'last_failure_at'> = {},
): HealthRecord {
  const at = formatTimestamp(stamp.now);
  const event: PendingHealthEvent = {
    id: stamp.eventId,
    event: EVENT_FOR[state],
    from,
    state,
    reason,
    since: at,
    at,
    host: stamp.host,
    attempts: 0,
  };
  const pending = capPending([...pendingEvents(user), event]);
  const health: HealthRecord = { state, since: at, ...extra, pending };
  if (reason !== null) health.reason = reason;
  return health;
}

/**
 * After saveUserTokens (a refresh or a connect saved a pair): healthy. `before` is the record as it was
 * before that save in the same mutation (the save clears needs_reconnect). A new user starts healthy with
 * nothing to announce; a healthy one is left byte-identical.
 */
export function applyHealthy(
  doc: StoreDocument,
  email: string,
  before: StoredUser | undefined,
  reason: 'refreshed' | 'connected',
  stamp: HealthStamp,
): StoredUser | undefined {
  const user = getUser(doc, email);
  if (!user || !before) return user;
  const prev = connectionState(before, stamp.now);
  const h = healthOf(user);
  if (prev === 'healthy') {
    if (!h || (h.state === 'healthy' && h.failures === undefined)) return user;
    const kept: HealthRecord = {
      state: 'healthy',
      since: h.state === 'healthy' ? h.since : formatTimestamp(stamp.now),
    };
    if (h.reason !== undefined && h.state === 'healthy') kept.reason = h.reason;
    const pending = pendingEvents(user);
    if (pending.length > 0) kept.pending = pending;
    return put(doc, email, user, kept);
  }
  return put(doc, email, user, changed(user, prev, 'healthy', reason, stamp));
}

/** After markNeedsReconnect, in the same mutation: dead, with the reconnect reason. */
export function applyDead(
  doc: StoreDocument,
  email: string,
  reason: string,
  stamp: HealthStamp,
): StoredUser | undefined {
  const user = getUser(doc, email);
  if (!user) return user;
  const h = healthOf(user);
  if (h?.state === 'dead') return user;
  const from: HealthState = h?.state === 'degraded' || h?.state === 'expiring' ? h.state : 'healthy';
  return put(doc, email, user, changed(user, from, 'dead', reason, stamp));
}

/**
 * A refresh failed for a reason that may pass (network, 5xx, 429): one more failure in a row. degraded, or
 * expiring once the refresh token is older than 50 days. Nothing for a dead record (a person must act).
 */
export function applyTemporaryFailure(
  doc: StoreDocument,
  email: string,
  kind: TemporaryKind,
  stamp: HealthStamp,
): StoredUser | undefined {
  const user = getUser(doc, email);
  if (!user || user.needs_reconnect) return user;
  const h = healthOf(user);
  // The state recorded, not connectionState(): a degraded record that has aged past 50 days reads as
  // expiring already, and this failure is what records (and announces) that change.
  const prev: HealthState = h?.state === 'degraded' || h?.state === 'expiring' ? h.state : 'healthy';
  const failing = prev !== 'healthy';
  const failures = (failing ? (h?.failures ?? 0) : 0) + 1;
  const next: HealthState = prev === 'expiring' || aged(user, stamp.now) ? 'expiring' : 'degraded';
  const last = formatTimestamp(stamp.now);
  if (next === prev && h) {
    const same: HealthRecord = { ...h, state: next, reason: kind, failures, last_failure_at: last };
    return put(doc, email, user, same);
  }
  return put(doc, email, user, changed(user, prev, next, kind, stamp, { failures, last_failure_at: last }));
}
