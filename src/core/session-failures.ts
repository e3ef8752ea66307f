/**
 * What a failed refresh POST leaves behind (issue 6 step 5-6, issue 15 items 2 and 5; reliability.md F8-F10).
 *
 * invalid_grant: re-read the store once in case someone else rotated; otherwise mark the record
 * needs_reconnect with Box's reason and keep it. Never delete or blank the record: the backend and `status`
 * still need to see who it was and why it stopped.
 *
 * The in-flight marker is cleared only when Box provably did not rotate: 429, invalid_client and other 4xx
 * refusals, or a transport failure that sent nothing (NetworkError details.requestSent === false; undefined
 * counts as sent). Everything else (timeout after sending, 5xx, a 200 we could not use, anything unexpected)
 * keeps it: the next run's attempt is then the one replay. Once Box answered with a pair the decision is by
 * phase, not class: any failure is the save's, the marker stays and the error is E_ROTATION_NOT_SAVED.
 *
 * A fenced-out save (FencedSaveError: the record changed during our POST) never overwrites the newer record;
 * our pair is set aside beside it (refresh_fenced_out) and the failure is said loudly.
 */
import { BoxApiError, ConfigError, ReconnectRequiredError, TemporaryError } from '../errors.js';
import { NetworkError } from './http/request.js';
import { InvalidGrantError, type ReceivedPair } from './oauth/token-endpoint.js';
import { clearInFlight, FencedSaveError, getUser, markNeedsReconnect, setAsideFencedPair } from './store/document.js';
import type { InFlightOwner } from './store/document.js';
import { RotationNotSavedError } from './session-save.js';
import type { ReconnectReason, StoredUser } from './store/types.js';
import type { Session } from './session-types.js';
import { applyDead, applyTemporaryFailure, healthStamp } from './health/state.js';
import { temporaryKind } from './health/classify.js';
import { historyTransition, transitionIn } from './health/history-hook.js';
import { onlyUser, readUser } from './store/scoped.js';

/** What handling a failed refresh touches of the session: the store, the clock and the two log lines. */
export type FailureSession = Pick<Session, 'store' | 'now' | 'log' | 'warn'> & { host?: string };

export interface RefreshFailureContext {
  session: FailureSession;
  email: string;
  /** The refresh token we presented. */
  spent: string;
  /** The generation the refresh started from. */
  generation: number;
  /** We were replaying a refresh token that a killed process had already sent (refresh_in_flight found). */
  replay: boolean;
  /** Our marker, as written before the POST. */
  marker: InFlightOwner & { since: string };
  /** Box's answer, when one arrived (the save then failed). */
  received?: ReceivedPair;
}

const MESSAGES: Record<ReconnectReason, string> = {
  refresh_token_expired: 'Box says the refresh token expired (not used for 60 days)',
  refresh_token_invalid: 'Box rejected the refresh token (invalid_grant: used elsewhere, or access revoked)',
  refresh_interrupted: 'a refresh was interrupted (process killed) and Box no longer accepts that refresh token',
};

function reasonFor(err: InvalidGrantError, replay: boolean): ReconnectReason {
  if (replay) return 'refresh_interrupted';
  return err.kind === 'expired' ? 'refresh_token_expired' : 'refresh_token_invalid';
}

/** Box cannot have rotated the refresh token we sent (or we sent nothing): the marker may go. */
export function provablyNotRotated(err: unknown): boolean {
  if (err instanceof NetworkError) return err.details?.requestSent === false;
  if (err instanceof ConfigError) return true;
  if (err instanceof TemporaryError) return err.details?.status === 429;
  if (err instanceof BoxApiError) return err.status >= 400 && err.status < 500;
  return false;
}

/** Returns another process's newer record, or throws (always: the error to report). */
export async function handleRefreshFailure(ctx: RefreshFailureContext, err: unknown): Promise<StoredUser> {
  const { session, email } = ctx;
  if (err instanceof FencedSaveError) return fencedOut(ctx);
  // Decided by phase, not by error class (REVIEW-1 finding 1): once Box answered with a pair, whatever failed
  // afterwards failed the save, and the marker is all the next run has to learn what happened.
  if (ctx.received !== undefined)
    throw err instanceof RotationNotSavedError ? err : new RotationNotSavedError(email, err, 1);
  const invalid = await handleInvalidGrant(ctx, err);
  if (invalid) return invalid;
  // A temporary failure is one more in a row for the connection's state (issue 18); recorded after the POST
  // failed, with nothing of ours left to save, in the same update as the marker's removal when it goes.
  const kind = temporaryKind(err);
  const clear = provablyNotRotated(err);
  if (kind !== undefined || clear) {
    const stamp = healthStamp(session.now(), session.host ?? '');
    const after = await session.store
      .update((doc) => {
        if (clear) clearInFlight(doc, email, ctx.marker);
        if (kind !== undefined && getUser(doc, email)?.refresh_token === ctx.spent)
          return applyTemporaryFailure(doc, email, kind, stamp);
        return undefined;
      }, onlyUser(email))
      .catch(() => undefined);
    await historyTransition(session.store, email, transitionIn(after, stamp));
  }
  throw err;
}

async function fencedOut(ctx: RefreshFailureContext): Promise<never> {
  const { session, email, received } = ctx;
  let kept = false;
  if (received) {
    const at = session.now();
    kept = await session.store
      .update((doc) => setAsideFencedPair(doc, email, received, ctx.generation, at), onlyUser(email))
      .catch(() => false);
  }
  warn(
    session,
    `${email}: the stored record changed while this refresh was in flight; the newer record was kept${kept ? ' and the pair Box just sent was set aside in refresh_fenced_out' : ''}`,
  );
  throw new FencedSaveError(session.store.location, email);
}

/** A --debug line that can never fail the caller (the refresh window must not fail because of output). */
export function safeDebug(log: { debug(line: string): void }): { debug(line: string): void } {
  return {
    debug(line) {
      try {
        log.debug(line);
      } catch {
        // best effort
      }
    },
  };
}

/** A warning for the person (stderr) that can never fail the caller. */
export function warn(session: Pick<Session, 'log' | 'warn'>, line: string): void {
  try {
    if (session.warn) session.warn(line);
    else session.log.debug(`warning: ${line}`);
  } catch {
    // best effort: the pair is already saved, a warning must not undo that
  }
}

/** Returns another process's newer record, throws ReconnectRequiredError, or returns undefined for other errors. */
export async function handleInvalidGrant(ctx: RefreshFailureContext, err: unknown): Promise<StoredUser | undefined> {
  if (!(err instanceof InvalidGrantError)) return undefined;
  const { session, email, spent } = ctx;
  const again = getUser(await readUser(session.store, email), email);
  if (again && again.refresh_token !== spent && !again.needs_reconnect) {
    session.log.debug(`invalid_grant for ${email}, but the store holds a newer pair: using it`);
    return again;
  }
  const reason = reasonFor(err, ctx.replay);
  const message = MESSAGES[reason];
  const stamp = healthStamp(session.now(), session.host ?? '');
  const after = await session.store
    .update((doc) => {
      // Only mark the record we failed with: a concurrent connect may have saved a new grant meanwhile.
      if (getUser(doc, email)?.refresh_token !== spent) return undefined;
      markNeedsReconnect(doc, email, reason, message, stamp.now);
      return applyDead(doc, email, reason, stamp);
    }, onlyUser(email))
    .catch((writeErr: unknown) => {
      session.log.debug(`could not record needs_reconnect for ${email}: ${String(writeErr)}`);
      return undefined;
    });
  await historyTransition(session.store, email, transitionIn(after, stamp));
  throw new ReconnectRequiredError(email, `${email} must reconnect: ${message}`, { cause: err, details: { reason } });
}
