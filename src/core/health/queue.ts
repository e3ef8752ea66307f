/**
 * The per-user queue of transitions to announce (health.pending), as pure mutations for store.update():
 * claim the oldest event with a lease, then settle it (delivered: removed; failed: lease dropped, left for
 * the next run). The lease is what makes delivery exactly-once across concurrent processes: update() is
 * atomic across processes and hosts, so one claimant wins and the rest see a live lease and move on.
 */
import { getUser } from '../store/document.js';
import { formatTimestamp, normalizeStoreEmail, parseTimestamp } from '../store/format.js';
import type { StoreDocument, StoredUser } from '../store/types.js';
import { healthOf, pendingEvents } from './state.js';
import type { PendingHealthEvent } from './types.js';

/**
 * How long a claim holds: above the 10 s delivery timeout of each transport plus the settle update and the
 * ~10 s clock difference hosts sharing a store may have (ARCHITECTURE.md invariant 6). A claimant that died
 * mid-delivery is replaced once it passes: at least once, never lost.
 */
export const CLAIM_LEASE_MS = 60_000;

function withPending(doc: StoreDocument, email: string, user: StoredUser, pending: PendingHealthEvent[]): void {
  const h = healthOf(user);
  if (!h) return;
  const health = { ...h };
  if (pending.length > 0) health.pending = pending;
  else delete health.pending;
  doc.users[normalizeStoreEmail(email)] = { ...user, health };
}

/** Emails with something to announce, in a snapshot. */
export function usersWithPending(doc: StoreDocument): string[] {
  return Object.keys(doc.users)
    .filter((email) => pendingEvents(doc.users[email]!).length > 0)
    .sort();
}

/**
 * The oldest pending event of `email`, claimed for `owner` until now + leaseMs, or undefined when there is
 * none or another process holds a live claim on it (the queue keeps order: nothing behind it is taken).
 */
export function claimNext(
  doc: StoreDocument,
  email: string,
  owner: string,
  now: number,
  leaseMs = CLAIM_LEASE_MS,
): PendingHealthEvent | undefined {
  const user = getUser(doc, email);
  if (!user) return undefined;
  const pending = pendingEvents(user);
  const head = pending[0];
  if (!head) return undefined;
  const until = parseTimestamp(head.claimed_until);
  if (until !== undefined && until > now && head.claimed_by !== owner) return undefined;
  const claimed: PendingHealthEvent = {
    ...head,
    attempts: (typeof head.attempts === 'number' ? head.attempts : 0) + 1,
    claimed_by: owner,
    claimed_until: formatTimestamp(now + leaseMs),
  };
  withPending(doc, email, user, [claimed, ...pending.slice(1)]);
  return claimed;
}

/** Delivered: the event leaves the queue (by id, whoever holds it now: it was announced). */
export function settleDelivered(doc: StoreDocument, email: string, id: string): void {
  const user = getUser(doc, email);
  if (!user) return;
  const pending = pendingEvents(user);
  if (!pending.some((e) => e.id === id)) return;
  withPending(
    doc,
    email,
    user,
    pending.filter((e) => e.id !== id),
  );
}

/**
 * Failed or timed out: the claim is dropped so the next run retries at once, with the same id; transports
 * that did take it are remembered so the retry does not repeat them. Only our own claim is touched.
 */
export function settleFailed(
  doc: StoreDocument,
  email: string,
  id: string,
  owner: string,
  error: string,
  deliveredTo: readonly string[],
): void {
  const user = getUser(doc, email);
  if (!user) return;
  const pending = pendingEvents(user);
  const at = pending.findIndex((e) => e.id === id);
  const event = pending[at];
  if (!event || event.claimed_by !== owner) return;
  const next: PendingHealthEvent = { ...event, last_error: error.slice(0, 200) };
  delete next.claimed_by;
  delete next.claimed_until;
  if (deliveredTo.length > 0) next.delivered_to = [...deliveredTo];
  withPending(
    doc,
    email,
    user,
    pending.map((e, i) => (i === at ? next : e)),
  );
}
