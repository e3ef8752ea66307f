/**
 * Issue 15 item 5, interface D: nobody replays a refresh token whose in-flight marker is younger than the
 * refresh POST bound + the save's retry budget + a margin, unless the marker is its own. The marker's `since` is written right before
 * its POST, so while it is that young its owner may still be waiting for Box's answer and about to save it
 * (e.g. a PostgreSQL holder whose session lock died mid-POST: it saves through a fenced update, without the
 * lock). Presenting the same refresh token meanwhile is a double spend: under strict rotation one of the two
 * answers is invalid_grant, under family revocation the whole grant dies. So we wait (polling the store,
 * bounded, abortable) for the marker to clear (adopt the rotation) or to age out (replay).
 *
 * A marker whose owner is on this host and provably dead (kill -9) is replayed at once: nobody can save
 * its answer any more, so waiting would only delay the recovery.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SAVE_BUDGET_MS } from './session-save.js';
import { getUser } from './store/document.js';
import { parseTimestamp } from './store/format.js';
import type { RefreshInFlight, StoredUser } from './store/types.js';
import type { Session } from './session.js';

/** Added to the owner's POST bound and save budget: clock skew between hosts, scheduling. */
export const MARKER_MARGIN_MS = 15_000;
const MARKER_POLL_MS = 100;

/**
 * How long a marker's owner may still save its answer: the POST bound, then the save's retry budget (it may
 * retry that long, fenced, after losing a PostgreSQL session lock), then the margin.
 */
export function markerBoundMs(session: Session): number {
  return (session.refreshTimeoutMs ?? 30_000) + (session.saveBudgetMs ?? DEFAULT_SAVE_BUDGET_MS) + (session.markerMarginMs ?? MARKER_MARGIN_MS);
}

/** True while `marker` belongs to a live (or unknown) other process and is younger than the bound. */
export function mustWaitFor(session: Session, marker: RefreshInFlight | undefined): boolean {
  if (marker === undefined) return false;
  if (marker.pid === session.pid && marker.host === session.host) return false;
  if (marker.host === session.host && session.isPidAlive !== undefined && typeof marker.pid === 'number' && !session.isPidAlive(marker.pid)) return false;
  const since = parseTimestamp(marker.since);
  if (since === undefined) return false;
  return session.now() - since < markerBoundMs(session);
}

/**
 * Holding the user lock: returns the record once no foreign young marker is on it, re-read from the store.
 * Waits at most the bound in polling time too, so a marker dated in the future cannot hold us forever.
 */
export async function waitOutForeignMarker(
  session: Session,
  email: string,
  current: StoredUser,
  check: (u: StoredUser | undefined) => StoredUser,
): Promise<StoredUser> {
  let rec = current;
  const bound = markerBoundMs(session);
  for (let waited = 0; mustWaitFor(session, rec.refresh_in_flight) && waited < bound; waited += MARKER_POLL_MS) {
    if (waited === 0) {
      const m = rec.refresh_in_flight!;
      session.log.debug(`${email}: a refresh by pid ${m.pid} on ${m.host} started ${m.since} may still be saving: waiting for it`);
    }
    const signal = session.interrupts.signal;
    await sleep(MARKER_POLL_MS, undefined, signal ? { signal } : undefined).catch((err: unknown) => {
      throw signal?.reason ?? err;
    });
    rec = check(getUser(await session.store.read(), email));
  }
  return rec;
}
