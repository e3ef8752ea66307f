/**
 * Where the audit log (issue 18 "History", branch i18-history) hears of transitions and of notifications
 * sent. Written against that branch's published contract without importing it (the branches merge later):
 * a store opened by core/store/open.ts carries `history` with `append(entry)` that never throws. Until the
 * merge no store has one and these do nothing; at the merge they may become recordHistory() calls
 * (core/history/record.ts) with the same entries.
 */
import type { TokenStore } from '../store/types.js';
import { pendingEvents } from './state.js';
import type { HealthStamp, PendingHealthEvent } from './types.js';
import type { StoredUser } from '../store/types.js';

interface HistoryEntryInput {
  event: 'transition' | 'notification';
  email: string;
  outcome: string;
  detail?: string;
}

interface WithHistory {
  history?: { append(entry: HistoryEntryInput): Promise<void> };
}

async function append(store: TokenStore, entry: HistoryEntryInput): Promise<void> {
  try {
    await (store as TokenStore & WithHistory).history?.append(entry);
  } catch {
    // the audit log never fails a command
  }
}

/** The transition an update recorded with `stamp`, if it recorded one (found by the stamp's event id). */
export function transitionIn(user: StoredUser | undefined, stamp: HealthStamp): PendingHealthEvent | undefined {
  return user ? pendingEvents(user).find((e) => e.id === stamp.eventId) : undefined;
}

/** Call after the update that recorded `event` is committed. */
export async function historyTransition(
  store: TokenStore,
  email: string,
  event: PendingHealthEvent | undefined,
): Promise<void> {
  if (!event) return;
  await append(store, {
    event: 'transition',
    email,
    outcome: event.state,
    detail: `${event.from ?? '?'} -> ${event.state}${event.reason ? ` (${event.reason})` : ''}; event ${event.id}`,
  });
}

/** Call after a delivery attempt was settled. `detail` is box-qc's own words (never the command or URL). */
export async function historyNotification(
  store: TokenStore,
  email: string,
  event: Pick<PendingHealthEvent, 'id' | 'event'>,
  outcome: 'ok' | 'failed',
  why?: string,
): Promise<void> {
  await append(store, {
    event: 'notification',
    email,
    outcome,
    detail: `${event.event} event ${event.id}${why ? `: ${why}` : ''}`,
  });
}
