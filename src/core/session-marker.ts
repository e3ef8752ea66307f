/**
 * Issue 15 item 5, interface D: nobody replays a refresh token whose in-flight marker is younger than the
 * refresh POST bound + the save's retry budget + a margin, unless the marker is its own. The marker's `since` is written right before
 * its POST, so while it is that young its owner may still be waiting for Box's answer and about to save it
 * (e.g. a PostgreSQL holder whose session lock died mid-POST: it saves through a fenced update, without the
 * lock). Presenting the same refresh token meanwhile is a double spend: under strict rotation one of the two
 * answers is invalid_grant, under family revocation the whole grant dies. So we wait (polling the store,
 * bounded, abortable) for the marker to clear (adopt the rotation) or to age out (replay).
 *
 * A marker whose owner is on this host, in this PID namespace, and provably dead (kill -9) is replayed at
 * once: nobody can save its answer any more, so waiting would only delay the recovery. "Our own marker"
 * means the owner's per-process random nonce matches (REVIEW-2 #5): two containers with the same host name,
 * both pid 1, are not one process. A marker from another namespace (or an older version's, without one)
 * counts as alive: its pid names nothing we can see.
 *
 * Age is judged by the waiter's clock against the owner's `since`, with the larger of both bounds (the
 * owner records its own, bound_ms: a waiter configured with a shorter POST timeout or save budget still
 * waits out the owner). Remaining assumption: the clocks of hosts sharing a store (PostgreSQL) agree within
 * the margin (15 s, minus up to 2 s between the marker's stamp and the POST and 1 s of rounding). NTP gives
 * far better; without it, raise markerMarginMs. (On PostgreSQL the server's clock could replace both:
 * stamp `since` with clock_timestamp() in the marker's transaction and judge with now(); not done, the
 * store's update() takes a pure JS mutation.)
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPidNamespace } from './store/file/proc-info.js';
import type { InFlightOwner } from './store/document.js';
import { DEFAULT_SAVE_BUDGET_MS } from './session-save.js';
import { getUser } from './store/document.js';
import { parseTimestamp } from './store/format.js';
import type { RefreshInFlight, StoredUser } from './store/types.js';
import type { Session } from './session-types.js';
import { stopSignal } from './session-stop.js';
import { readUser } from './store/scoped.js';

/** Added to the owner's POST bound and save budget: clock skew between hosts, scheduling. */
export const MARKER_MARGIN_MS = 15_000;
const MARKER_POLL_MS = 100;

/**
 * How long a marker's owner may still save its answer: the POST bound, then the save's retry budget (it may
 * retry that long, fenced, after losing a PostgreSQL session lock), then the margin.
 */
export function markerBoundMs(session: Session): number {
  return (
    (session.refreshTimeoutMs ?? 30_000) +
    (session.saveBudgetMs ?? DEFAULT_SAVE_BUDGET_MS) +
    (session.markerMarginMs ?? MARKER_MARGIN_MS)
  );
}

/** Never more than this from a marker's own bound_ms: a bogus value must not stall a user for long. */
const MAX_OWNER_BOUND_MS = 10 * 60_000;
/** `since` is stored rounded down to the second: the marker may look up to this much older than it is. */
const ROUNDING_MS = 1000;

/**
 * This process's marker identity: a random nonce made once per process, and its PID namespace. Made on first
 * use, not at import: node:crypto costs a PostgreSQL `token` or `status` run ~6 ms to load (the lock storm of
 * issue 20), and only a process that writes a marker needs it.
 */
let processNonce: string | undefined;
let pidNs: Promise<string | undefined> | undefined;

export interface MarkerIdentity {
  nonce: string;
  pidNs: string | undefined;
}

/** Ours (read from /proc once per process); a session may name another (tests: two "processes" in one). */
export async function markerIdentity(session: Session): Promise<MarkerIdentity> {
  if (session.markerIdentity) return session.markerIdentity;
  pidNs ??= readPidNamespace();
  processNonce ??= randomBytes(12).toString('hex');
  return { nonce: processNonce, pidNs: await pidNs };
}

/** Who we are in a marker we write. */
export async function markerOwner(session: Session): Promise<InFlightOwner> {
  const id = await markerIdentity(session);
  const owner: InFlightOwner = {
    pid: session.pid,
    host: session.host,
    nonce: id.nonce,
    bound_ms: markerBoundMs(session),
  };
  if (id.pidNs !== undefined) owner.pid_ns = id.pidNs;
  return owner;
}

function isOwn(session: Session, marker: RefreshInFlight, id: MarkerIdentity | undefined): boolean {
  return (
    typeof marker.nonce === 'string' &&
    marker.nonce === (id ?? session.markerIdentity)?.nonce &&
    marker.pid === session.pid &&
    marker.host === session.host
  );
}

function provablyDead(session: Session, marker: RefreshInFlight, id: MarkerIdentity | undefined): boolean {
  if (id === undefined || session.isPidAlive === undefined || typeof marker.pid !== 'number') return false;
  return marker.host === session.host && marker.pid_ns === id.pidNs && !session.isPidAlive(marker.pid);
}

/** The larger of our bound and the one the marker's owner recorded. */
function boundFor(session: Session, marker: RefreshInFlight): number {
  const theirs =
    typeof marker.bound_ms === 'number' && Number.isFinite(marker.bound_ms)
      ? Math.min(marker.bound_ms, MAX_OWNER_BOUND_MS)
      : 0;
  return Math.max(markerBoundMs(session), theirs) + ROUNDING_MS;
}

/**
 * True while `marker` belongs to a live (or unknown) other process and is younger than the bound. Without
 * `id` (markerIdentity()), no owner is judged dead, and "own" is only the session's given identity.
 */
export function mustWaitFor(session: Session, marker: RefreshInFlight | undefined, id?: MarkerIdentity): boolean {
  if (marker === undefined || marker === null) return false;
  if (isOwn(session, marker, id) || provablyDead(session, marker, id)) return false;
  const since = parseTimestamp(marker.since);
  if (since === undefined) return false;
  return session.now() - since < boundFor(session, marker);
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
  const id = await markerIdentity(session);
  let rec = current;
  const first = rec.refresh_in_flight;
  const bound = first ? boundFor(session, first) : markerBoundMs(session);
  for (let waited = 0; mustWaitFor(session, rec.refresh_in_flight, id) && waited < bound; waited += MARKER_POLL_MS) {
    if (waited === 0) {
      const m = rec.refresh_in_flight!;
      session.log.debug(
        `${email}: a refresh by pid ${m.pid} on ${m.host} started ${m.since} may still be saving: waiting for it`,
      );
    }
    const signal = stopSignal(session.interrupts);
    await sleep(MARKER_POLL_MS, undefined, signal ? { signal } : undefined).catch((err: unknown) => {
      throw signal?.reason ?? err;
    });
    rec = check(getUser(await readUser(session.store, email), email));
  }
  return rec;
}
