/**
 * When a stored record wants a refresh (issue 6 step 1; REVIEW-1 finding 7c). Split from session.ts, which
 * re-exports it.
 */
import { MAX_PLAUSIBLE_EXPIRES_IN_S } from './oauth/token-endpoint.js';
import { parseTimestamp } from './store/format.js';
import type { StoredUser } from './store/types.js';
import type { TokenRequest } from './session-types.js';

export const DEFAULT_MIN_VALID_MS = 5 * 60_000;
/** Clocks of hosts sharing a store may disagree this much without a timestamp counting as "from the future". */
const CLOCK_SKEW_MS = 5 * 60_000;
/** No saved expiry is further ahead than the longest believed expires_in: beyond it (plus skew), the clock was wrong. */
const MAX_FUTURE_EXPIRY_MS = MAX_PLAUSIBLE_EXPIRES_IN_S * 1000 + CLOCK_SKEW_MS;

export function expiresAtOf(user: StoredUser): number {
  return parseTimestamp(user.access_token_expires_at) ?? 0;
}

/** Why a record wants a refresh now, or undefined when it does not. */
export function refreshReason(
  user: StoredUser,
  now: number,
  req: TokenRequest,
): 'forced' | 'interrupted' | 'rejected' | 'expiring' | 'aged' | undefined {
  if (req.force) return 'forced';
  // A marker left by a killed refresher means the stored refresh token may already be spent: replay it now
  // (under the user lock, so a live refresher is waited for, not raced) rather than skip a user who looks
  // fresh and find out at expiry (found by test/faults/cron-after-kill.test.ts).
  if (user.refresh_in_flight !== undefined) return 'interrupted';
  if (req.rejectedAccessToken !== undefined && req.rejectedAccessToken === user.access_token) return 'rejected';
  // An empty access token (saved from an answer that lacked one) is never handed out as fresh.
  if (user.access_token === '') return 'expiring';
  const validFor = expiresAtOf(user) - now;
  if (validFor <= (req.minValidMs ?? DEFAULT_MIN_VALID_MS)) return 'expiring';
  // From the future (REVIEW-1 finding 7c): the clock was wrong when it was saved, so neither the expiry nor
  // the refresh token's age can be believed; trusting them could skip the user past Box's 60 days.
  if (validFor > MAX_FUTURE_EXPIRY_MS) return 'expiring';
  const issued = parseTimestamp(user.refresh_token_issued_at) ?? parseTimestamp(user.updated_at) ?? 0;
  if (issued - now > CLOCK_SKEW_MS) return 'aged';
  if (req.maxAgeMs !== undefined && now - issued > req.maxAgeMs) return 'aged';
  return undefined;
}
