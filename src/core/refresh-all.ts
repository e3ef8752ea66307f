/**
 * Refresh many users for cron (`refresh --all`): each user goes through getValidAccessToken (the one
 * protocol), with a bounded number in flight; per-user locks mean users never wait on each other. A user's
 * failure is recorded, never fatal to the run, except invalid_client (the app itself is misconfigured: every
 * other user would fail the same way, so stop and exit 2).
 */
import {
  BoxQcError,
  ConfigError,
  ExitCode,
  ReconnectRequiredError,
  StoreBusyError,
  TemporaryError,
} from '../errors.js';
import { TOKEN_KEY_CODES } from './store/crypto/errors.js';
import { getValidAccessTokenFrom, type Session, type TokenRequest } from './session.js';
import { getUser } from './store/document.js';
import { normalizeStoreEmail } from './store/format.js';
import { stopAsked, throwIfStopAsked } from './session-stop.js';
import { DEFAULT_REFRESH_CONCURRENCY } from './refresh-concurrency.js';
import { readUser } from './store/scoped.js';

export type RefreshStatus = 'refreshed' | 'skipped' | 'needs_reconnect' | 'temporary_failure' | 'failed';

export interface RefreshOutcome {
  email: string;
  status: RefreshStatus;
  /** ms since the epoch, when known. */
  expiresAt?: number;
  error?: { code: string; message: string; reason?: string };
  /** What Box's answer lacked and was defaulted (the new pair was saved). */
  warnings?: string[];
}

export interface RefreshManyOptions extends Omit<TokenRequest, 'rejectedAccessToken'> {
  /** Users in flight at once; default DEFAULT_REFRESH_CONCURRENCY (refresh-concurrency.ts). */
  concurrency?: number;
  /** Called as each user finishes (progress, per-user lines). */
  onOutcome?: (outcome: RefreshOutcome, done: number, total: number) => void;
}

function outcomeOf(email: string, err: unknown): RefreshOutcome {
  const status: RefreshStatus =
    err instanceof ReconnectRequiredError
      ? 'needs_reconnect'
      : err instanceof TemporaryError || err instanceof StoreBusyError
        ? 'temporary_failure'
        : 'failed';
  const error: RefreshOutcome['error'] =
    err instanceof BoxQcError
      ? { code: err.code, message: err.message }
      : { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
  const reason = err instanceof BoxQcError ? err.details?.reason : undefined;
  if (typeof reason === 'string') error.reason = reason;
  return { email, status, error };
}

export async function refreshMany(
  session: Session,
  emails: readonly string[],
  options: RefreshManyOptions,
): Promise<RefreshOutcome[]> {
  const outcomes = new Array<RefreshOutcome>(emails.length);
  // Keeping refresh tokens alive is the job here: an answer without an access token is saved, not re-refreshed.
  const request: TokenRequest = { accessTokenNeeded: false };
  if (options.force) request.force = true;
  if (options.minValidMs !== undefined) request.minValidMs = options.minValidMs;
  if (options.maxAgeMs !== undefined) request.maxAgeMs = options.maxAgeMs;
  // One snapshot for the "does it need a refresh" check; every refresh re-reads under its user lock anyway.
  // One user: that user's row only (issue 20), whatever the store's size.
  const snapshot = emails.length === 1 ? await readUser(session.store, emails[0]!) : await session.store.read();
  let next = 0;
  let done = 0;
  let fatal: unknown;
  const worker = async () => {
    while (fatal === undefined && next < emails.length) {
      // A stop asked for (SIGTERM while other users' sections are open) starts no further user (REVIEW-2 #1).
      try {
        throwIfStopAsked(session.interrupts);
      } catch (err) {
        fatal ??= err;
        return;
      }
      const index = next++;
      let email = emails[index]!;
      let outcome: RefreshOutcome;
      try {
        email = normalizeStoreEmail(email);
        const r = await getValidAccessTokenFrom(session, email, getUser(snapshot, email), request);
        outcome = { email, status: r.refreshed ? 'refreshed' : 'skipped', expiresAt: r.expiresAt };
        if (r.warnings) outcome.warnings = r.warnings;
      } catch (err) {
        // A ConfigError here never comes from a save after Box answered: that is E_ROTATION_NOT_SAVED (REVIEW-2 #8).
        if (err instanceof ConfigError || stopAsked(session.interrupts)) {
          fatal = err;
          return;
        }
        outcome = outcomeOf(email, err);
      }
      outcomes[index] = outcome;
      done += 1;
      report(options, outcome, done, emails.length);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? DEFAULT_REFRESH_CONCURRENCY, emails.length));
  // allSettled: even a worker that failed in a way nobody foresaw must not end the run while the other
  // workers' POSTs are in flight (the caller closes the pool once this returns; REVIEW-1 finding 5).
  const settled = await Promise.allSettled(Array.from({ length: workers }, worker));
  const crashed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (fatal === undefined && crashed) fatal = crashed.reason;
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a worker's failure is passed on exactly as it was thrown
  if (fatal !== undefined) throw fatal;
  return outcomes;
}

/**
 * A progress callback that throws (a per-user line on a full disk, a closed pipe) is the caller's problem,
 * never the other users': their refreshes go on, and the outcome is still returned (REVIEW-1 finding 5).
 */
function report(options: RefreshManyOptions, outcome: RefreshOutcome, done: number, total: number): void {
  try {
    options.onOutcome?.(outcome, done, total);
  } catch {
    // best effort by design
  }
}

/**
 * Exit 0 when all are fine; 2 if any user's stored token could not be opened (issue 19: no key, an unknown key
 * id, a value that does not authenticate: the operator must fix the key or the store first); else 4 if any user
 * needs reconnect, else 75 if any temporary failure, else 1.
 */
export function exitCodeFor(outcomes: readonly RefreshOutcome[]): number {
  if (outcomes.some((o) => o.status === 'failed' && TOKEN_KEY_CODES.has(o.error?.code ?? ''))) return ExitCode.USAGE;
  if (outcomes.some((o) => o.status === 'needs_reconnect')) return ExitCode.RECONNECT;
  if (outcomes.some((o) => o.status === 'temporary_failure')) return ExitCode.TEMPFAIL;
  if (outcomes.some((o) => o.status === 'failed')) return ExitCode.FAILED;
  return ExitCode.OK;
}
