/**
 * Where the audit log (issue 18 "History", core/history/) hears of transitions and of notifications sent:
 * the entries the notify side writes, through the one hook (core/history/record.ts), which never throws.
 */
import type { TokenStore } from '../store/types.js';
import { recordHistory } from '../history/record.js';
import { pendingEvents } from './state.js';
import type { HealthStamp, PendingHealthEvent } from './types.js';
import type { StoredUser } from '../store/types.js';

const append = recordHistory;

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
