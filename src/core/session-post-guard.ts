/**
 * The in-flight marker, and the last look before the POST (REVIEW-2 #1, #4, #10). The marker's `since` is
 * what another process judges its age by (session-marker.ts): it must be close to when the POST starts. It
 * is stamped right before the marker write; if that write took longer than MAX_MARKER_WRITE_MS (a store
 * lock wait, PostgreSQL reconnects), `since` is already stale and the margin waiters rely on is used up: the
 * marker is written again with a fresh `since`, and if that stays slow the refresh ends there with nothing
 * sent (exit 75, the marker cleared again). So it does when a stop was
 * asked for meanwhile: only POSTs already sent are finished.
 */
import { TemporaryError } from '../errors.js';
import { clearInFlight, markInFlight, type InFlightOwner } from './store/document.js';
import { formatTimestamp } from './store/format.js';
import type { Session } from './session-types.js';
import { stopAsked, throwIfStopAsked } from './session-stop.js';
import { onlyUser } from './store/scoped.js';

export const MAX_MARKER_WRITE_MS = 2_000;

export type WrittenMarker = InFlightOwner & { since: string; writeMs: number };

/** Marker writes tried before giving up on a slow store: the first, and re-stamps with a fresh `since`. */
const MARKER_WRITES = 3;

/**
 * Writes our marker; `since` = now, just before the write. A write slower than the limit is done again with
 * a fresh `since` (a busy store lock clears quickly once our turn came), at most MARKER_WRITES times; the
 * last duration is what abortBeforePost judges.
 */
export async function writeMarker(session: Session, email: string, owner: InFlightOwner): Promise<WrittenMarker> {
  const limit = session.maxMarkerWriteMs ?? MAX_MARKER_WRITE_MS;
  let written: WrittenMarker | undefined;
  let n = 0;
  do {
    const since = session.now();
    const started = performance.now();
    try {
      // beforePost: the encryption wrapper's keyless check is made by this commit (crypto-store.ts).
      await session.store.update(
        (doc) => markInFlight(doc, email, owner, since),
        onlyUser(email, { beforePost: true }),
      );
    } catch (err) {
      // A re-stamp refused (a store encrypted meanwhile) or failed: the marker written before it goes, as
      // abortBeforePost clears one (review of the keyless check at commit, finding 2). Best effort: one left
      // behind only makes the next run replay a refresh token that was never sent, which is safe.
      if (written !== undefined) {
        const { writeMs: _ms, ...mine } = written;
        await session.store.update((doc) => clearInFlight(doc, email, mine), onlyUser(email)).catch(() => undefined);
      }
      throw err;
    }
    written = { ...owner, since: formatTimestamp(since), writeMs: performance.now() - started };
    n += 1;
  } while (written.writeMs > limit && n < MARKER_WRITES && !stopAsked(session.interrupts));
  return written;
}

/** Throws (after clearing our marker) when the POST must not go out; returns when it may. */
export async function abortBeforePost(session: Session, email: string, marker: WrittenMarker): Promise<void> {
  const stopping = stopAsked(session.interrupts);
  const slow = marker.writeMs > (session.maxMarkerWriteMs ?? MAX_MARKER_WRITE_MS);
  if (!stopping && !slow) return;
  const { writeMs: _ms, ...owner } = marker;
  // If this fails the marker stays: the next run replays that refresh token once, which is safe (it was never sent).
  await session.store.update((doc) => clearInFlight(doc, email, owner), onlyUser(email)).catch(() => undefined);
  if (stopping) throwIfStopAsked(session.interrupts);
  throw new TemporaryError(
    `${email}: the store took ${Math.round(marker.writeMs)} ms to mark the refresh in flight; not sent (nothing was lost)`,
    {
      code: 'E_STORE_SLOW',
      hint: 'try again; if it persists, check the store (lock contention, database latency)',
    },
  );
}
