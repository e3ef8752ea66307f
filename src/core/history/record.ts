/**
 * The one-line hook for everyone who records an event (issue 18 history): `await recordHistory(store, {...})`.
 * A store opened by core/store/open.ts carries its log (TokenStore.history); a store built elsewhere (a test
 * fake) has none, and then nothing is recorded. Never throws: the audit log must never fail a command.
 *
 *   await recordHistory(store, { event: 'transition', email, outcome: 'dead', detail: 'healthy -> dead' });
 *   await recordHistory(store, { event: 'notification', email, outcome: 'ok', detail: 'connection.dead' });
 *   await recordHistory(store, { event: 'invite.created', email, outcome: 'ok' });
 */
import type { TokenStore } from '../store/types.js';
import type { HistoryInput } from './types.js';

/**
 * Call it only after the change it reports is committed (a token save first, the log line after). It queues
 * the line and returns at once: callers sit inside a user's lock or the refresh's critical section, and a slow
 * disk or a locked history table must never hold those (review of issue 18, finding 1). The log keeps call
 * order; the store's close() waits for what is queued, bounded (types.ts flushHistory).
 */
export function recordHistory(store: Pick<TokenStore, 'history'>, entry: HistoryInput): Promise<void> {
  try {
    store.history?.append(entry).catch(() => undefined);
  } catch {
    // append() never throws by contract; a foreign implementation that does still must not fail the caller
  }
  return Promise.resolve();
}
