/**
 * A connection's health as kept in its store record (`StoredUser.health`, issue 18): the state, since when,
 * and the transitions still to be announced. snake_case like the rest of the record (the file is shared with
 * the Python backend, which ignores the field). Never a token or secret in here: events are copied out to
 * the notify command and webhook as they are.
 */

/**
 * healthy: the last refresh (or connect) worked. degraded: temporary failures in a row (network, Box 5xx,
 * 429). dead: needs reconnect (follows `needs_reconnect`). expiring: temporary failures keep the refresh
 * token from rotating and it is older than 50 days (Box kills it at 60).
 */
export type HealthState = 'healthy' | 'degraded' | 'dead' | 'expiring';

export type HealthEventName =
  'connection.dead' | 'connection.recovered' | 'connection.degraded' | 'connection.expiring';

/** Why a refresh failed for a while: the failure's class, never Box's text. */
export type TemporaryKind = 'network' | 'box_5xx' | 'rate_limited' | 'bad_answer';

/** A transition recorded in the store and not yet delivered (health.pending, oldest first). */
export interface PendingHealthEvent {
  /** Random, fixed when the transition is recorded: the same across retries so receivers can de-duplicate. */
  id: string;
  event: HealthEventName;
  /** The state it left (stored for the audit log; not part of the event document). */
  from?: HealthState;
  state: HealthState;
  reason: string | null;
  /** When the new state began. */
  since: string;
  /** When the transition was recorded. */
  at: string;
  /** The host whose process recorded it. */
  host: string;
  /** Delivery attempts started so far. */
  attempts: number;
  /** A delivering process's lease (claim_until, claimed_by): another process leaves the event alone until then. */
  claimed_until?: string;
  claimed_by?: string;
  /** Transports that already took it (a retry after a partial failure does not repeat them). */
  delivered_to?: string[];
  /** The last delivery failure, short and secret-free. */
  last_error?: string;
}

export interface HealthRecord {
  state: HealthState;
  since: string;
  /** dead: the needs_reconnect reason; degraded/expiring: the last TemporaryKind; healthy: what healed it. */
  reason?: string;
  /** Temporary failures in a row (degraded, expiring). */
  failures?: number;
  last_failure_at?: string;
  pending?: PendingHealthEvent[];
}

/** What a transition needs from its caller, fixed before the update() so a re-run mutation is identical. */
export interface HealthStamp {
  /** ms since the epoch. */
  now: number;
  /** The event id the transition gets, if it is one (crypto.randomUUID()). */
  eventId: string;
  host: string;
}
