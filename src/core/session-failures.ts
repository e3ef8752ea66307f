/**
 * invalid_grant after a refresh POST (issue 6 step 5; reliability.md F9, F10): re-read the store once in
 * case someone else rotated; otherwise mark the record needs_reconnect with Box's reason and keep it. Never
 * delete or blank the record: the backend and `status` still need to see who it was and why it stopped.
 */
import { ReconnectRequiredError } from '../errors.js';
import { InvalidGrantError } from './oauth/token-endpoint.js';
import { getUser, markNeedsReconnect } from './store/document.js';
import type { ReconnectReason, StoredUser } from './store/types.js';
import type { Session } from './session.js';

export interface RefreshFailureContext {
  session: Session;
  email: string;
  /** The refresh token we presented. */
  spent: string;
  /** We were replaying a refresh token that a killed process had already sent (refresh_in_flight found). */
  replay: boolean;
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

/** Returns another process's newer record, throws ReconnectRequiredError, or returns undefined for other errors. */
export async function handleInvalidGrant(ctx: RefreshFailureContext, err: unknown): Promise<StoredUser | undefined> {
  if (!(err instanceof InvalidGrantError)) return undefined;
  const { session, email, spent } = ctx;
  const again = getUser(await session.store.read(), email);
  if (again && again.refresh_token !== spent && !again.needs_reconnect) {
    session.log.debug(`invalid_grant for ${email}, but the store holds a newer pair: using it`);
    return again;
  }
  const reason = reasonFor(err, ctx.replay);
  const message = MESSAGES[reason];
  await session.store
    .update((doc) => {
      // Only mark the record we failed with: a concurrent connect may have saved a new grant meanwhile.
      if (getUser(doc, email)?.refresh_token === spent) markNeedsReconnect(doc, email, reason, message, session.now());
    })
    .catch((writeErr: unknown) => session.log.debug(`could not record needs_reconnect for ${email}: ${String(writeErr)}`));
  throw new ReconnectRequiredError(email, `${email} must reconnect: ${message}`, { cause: err, details: { reason } });
}
