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

/** Call it only after the change it reports is committed (a token save first, the log line after). */
export async function recordHistory(store: Pick<TokenStore, 'history'>, entry: HistoryInput): Promise<void> {
  try {
    await store.history?.append(entry);
  } catch {
    // append() never throws by contract; a foreign implementation that does still must not fail the caller
  }
}
