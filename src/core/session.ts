/**
 * getValidAccessToken(): THE one place that decides to refresh and persists rotation (issue 6 protocol,
 * steps 1-7; reliability.md §6, F1-F11). No path may present a refresh token to Box twice or lose a
 * rotated one:
 *  1. a fresh access token is used without any lock;
 *  2. otherwise take the user's cross-process lock, re-read, and adopt another process's rotation;
 *  3. make sure the result can be written before spending the refresh token (ensureWritable);
 *  4. mark the refresh in flight, then inside the signal-deferring critical section POST once and save the
 *     new pair at once (clearing the marker);
 *  5. invalid_grant: re-read once, else mark needs_reconnect with Box's reason and keep the record;
 *  6. timeout / 5xx / 429: keep the old pair, TemporaryError, no retry; invalid_client: ConfigError;
 *  7. concurrent callers in one process share one refresh (single flight).
 */
import type { ClientCredentials } from '../config.js';
import { ReconnectRequiredError, StoreWriteError, TemporaryError } from '../errors.js';
import type { HttpContext, HttpLog } from './http.js';
import { refreshTokens } from './oauth/token-endpoint.js';
import { getUser, saveUserTokens, clearInFlight, markInFlight } from './store/document.js';
import { parseTimestamp, normalizeStoreEmail } from './store/format.js';
import type { LockWaitInfo, StoredUser, TokenStore } from './store/types.js';
import { handleInvalidGrant, type RefreshFailureContext } from './session-failures.js';

export interface Session {
  store: TokenStore;
  http: HttpContext;
  apiBaseUrl: URL;
  /** Lazy: a fresh access token must not require the client secret. Throws ConfigError when missing. */
  credentials(): ClientCredentials;
  now(): number;
  /** Defers SIGINT/SIGTERM/SIGHUP around the refresh window (deps.interrupts; createManualInterrupts in libraries). */
  interrupts: { critical<T>(fn: () => Promise<T>): Promise<T>; readonly signal?: AbortSignal };
  log: HttpLog;
  pid: number;
  host: string;
  /** Bound on the refresh POST (ms); default 30 s (reliability.md §6 step 4). */
  refreshTimeoutMs?: number;
  /** Called once when a user lock is busy (commands show a spinner). */
  onLockWait?: (holder: LockWaitInfo) => void;
}

export const DEFAULT_MIN_VALID_MS = 5 * 60_000;

export interface TokenRequest {
  /** Refresh when the access token expires within this (ms). Default 5 min. */
  minValidMs?: number;
  /** Refresh when the refresh token was issued longer ago than this (ms): keeps users far from Box's 60 days. */
  maxAgeMs?: number;
  /** Refresh even if fresh (refresh --force). Another process's rotation since our read still counts. */
  force?: boolean;
  /** Box answered 401 to this access token: refresh unless the store already holds a different one. */
  rejectedAccessToken?: string;
}

export interface AccessTokenResult {
  email: string;
  accessToken: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** This call rotated the pair (false: fresh already, or adopted another process's rotation). */
  refreshed: boolean;
  user: StoredUser;
}

const inflight = new WeakMap<TokenStore, Map<string, Promise<AccessTokenResult>>>();

function expiresAtOf(user: StoredUser): number {
  return parseTimestamp(user.access_token_expires_at) ?? 0;
}

/** Why a record wants a refresh now, or undefined when it does not. */
export function refreshReason(user: StoredUser, now: number, req: TokenRequest): 'forced' | 'interrupted' | 'rejected' | 'expiring' | 'aged' | undefined {
  if (req.force) return 'forced';
  // A marker left by a killed refresher means the stored refresh token may already be spent: replay it now
  // (under the user lock, so a live refresher is waited for, not raced) rather than skip a user who looks
  // fresh and find out at expiry (found by test/faults/cron-after-kill.test.ts).
  if (user.refresh_in_flight !== undefined) return 'interrupted';
  if (req.rejectedAccessToken !== undefined && req.rejectedAccessToken === user.access_token) return 'rejected';
  if (expiresAtOf(user) - now <= (req.minValidMs ?? DEFAULT_MIN_VALID_MS)) return 'expiring';
  if (req.maxAgeMs !== undefined) {
    const issued = parseTimestamp(user.refresh_token_issued_at) ?? parseTimestamp(user.updated_at) ?? 0;
    if (now - issued > req.maxAgeMs) return 'aged';
  }
  return undefined;
}

function usable(session: Session, email: string): (user: StoredUser | undefined) => StoredUser {
  return (user) => {
    if (!user) throw new ReconnectRequiredError(email, `${email} is not connected`, { code: 'E_NOT_CONNECTED' });
    if (user.needs_reconnect) {
      throw new ReconnectRequiredError(email, `${email} must reconnect: ${user.needs_reconnect.message}`, {
        details: { reason: user.needs_reconnect.reason },
      });
    }
    return user;
  };
}

function result(email: string, user: StoredUser, refreshed: boolean): AccessTokenResult {
  return { email, accessToken: user.access_token, expiresAt: expiresAtOf(user), refreshed, user };
}

/** A valid access token for `email`, refreshing through the protocol when needed. */
export async function getValidAccessToken(session: Session, rawEmail: string, req: TokenRequest = {}): Promise<AccessTokenResult> {
  const email = normalizeStoreEmail(rawEmail);
  return getValidAccessTokenFrom(session, email, getUser(await session.store.read(), email), req);
}

/**
 * Same as getValidAccessToken, starting from a record the caller already read (refresh --all reads the store
 * once instead of once per user). Safe with a stale snapshot: a refresh always re-reads under the user lock.
 */
export async function getValidAccessTokenFrom(
  session: Session,
  email: string,
  snapshot: StoredUser | undefined,
  req: TokenRequest = {},
): Promise<AccessTokenResult> {
  const seen = usable(session, email)(snapshot);
  if (!refreshReason(seen, session.now(), req)) return result(email, seen, false);
  let perStore = inflight.get(session.store);
  if (!perStore) inflight.set(session.store, (perStore = new Map()));
  const pending = perStore.get(email);
  if (pending) return pending;
  const promise = refreshUnderLock(session, email, seen, req).finally(() => perStore.delete(email));
  perStore.set(email, promise);
  return promise;
}

/** How often a process waiting for a user lock looks for the holder's saved result (below). */
const ROTATION_POLL_MS = 50;

async function refreshUnderLock(session: Session, email: string, seen: StoredUser, req: TokenRequest): Promise<AccessTokenResult> {
  const check = usable(session, email);
  const isRotated = (current: StoredUser) => (current.generation ?? 0) !== (seen.generation ?? 0) || current.refresh_token !== seen.refresh_token;
  // While another process holds the lock, poll the store for its saved result: once it is durable and fresh,
  // this waiter has what it came for and need not queue for the lock at all. Otherwise 31 waiters on one
  // refresh took the lock one after another, each noticing its turn only at its next 25-100 ms poll
  // (issue 8, lock storm). Reading without the lock is safe: a write is an atomic rename.
  const gotFresh = new AbortController();
  let fresh: StoredUser | undefined;
  let poll: NodeJS.Timeout | undefined;
  const lookForRotation = async () => {
    try {
      const current = check(getUser(await session.store.read(), email));
      if (isRotated(current) && !refreshReason(current, session.now(), { ...req, force: false })) {
        fresh = current;
        gotFresh.abort();
      }
    } catch {
      // not usable (or unreadable): the locked path below reports it
    }
  };
  const onWait = (holder: LockWaitInfo) => {
    session.onLockWait?.(holder);
    poll ??= setInterval(() => void lookForRotation(), ROTATION_POLL_MS);
  };
  const signal = session.interrupts.signal ? AbortSignal.any([session.interrupts.signal, gotFresh.signal]) : gotFresh.signal;
  try {
    return await session.store.withUserLock(email, async () => {
      clearInterval(poll);
      const current = check(getUser(await session.store.read(), email));
      // Step 2: someone rotated while we waited for the lock (or before): use their result (F1, F22).
      const rotated = isRotated(current);
      if (rotated && !refreshReason(current, session.now(), { ...req, force: false })) return result(email, current, false);
      if (!rotated && !refreshReason(current, session.now(), req)) return result(email, current, false);
      return refreshNow(session, email, current);
    }, { signal, onWait });
  } catch (err) {
    if (fresh !== undefined && !session.interrupts.signal?.aborted) return result(email, fresh, false);
    throw err;
  } finally {
    clearInterval(poll);
  }
}

/** Steps 3-6, holding the user lock. */
async function refreshNow(session: Session, email: string, current: StoredUser): Promise<AccessTokenResult> {
  // Step 3: never spend a refresh token whose successor could not be saved (F5, F6): the room for the save
  // is reserved now, so a disk that fills during the POST cannot stop it (issue 15 item 4).
  const reservation = await session.store.reserveWrite();
  try {
    return await refreshReserved(session, email, current);
  } finally {
    await reservation.release();
  }
}

async function refreshReserved(session: Session, email: string, current: StoredUser): Promise<AccessTokenResult> {
  const credentials = session.credentials();
  const spent = current.refresh_token;
  // A marker found under the lock was left by a process that died (or lost its answer) mid-refresh (F8):
  // this attempt is then the one replay of that same refresh token.
  const replay = current.refresh_in_flight !== undefined;
  const http: HttpContext = { ...session.http, timeoutMs: session.refreshTimeoutMs ?? 30_000 };
  const tokenOpts = { http, apiBaseUrl: session.apiBaseUrl, credentials };
  const failure: RefreshFailureContext = { session, email, spent, replay };
  let saved: StoredUser | undefined;
  let markerWritten = false;
  session.interrupts.signal?.throwIfAborted();
  try {
    // The critical section starts before the marker: once "in flight" is on disk, the POST and the save run
    // to completion (bounded by the 30 s timeout) whatever signal arrives meanwhile.
    saved = await session.interrupts.critical(async () => {
      await session.store.update((doc) => markInFlight(doc, email, { pid: session.pid, host: session.host }, session.now()));
      markerWritten = true;
      const pair = await refreshTokens(tokenOpts, spent);
      const receivedAt = session.now();
      // Save at once, before any other request (step 4); retry the write: Box already rotated (F6).
      return saveWithRetry(session, (doc) => saveUserTokens(doc, email, pair, undefined, receivedAt));
    });
  } catch (err) {
    if (!markerWritten) throw err;
    return handleRefreshFailure(failure, err);
  }
  session.log.debug(`refreshed ${email} (generation ${saved.generation ?? '?'})`);
  // A signal deferred during the critical section is honoured now that the new pair is durable.
  session.interrupts.signal?.throwIfAborted();
  return result(email, saved, true);
}

async function saveWithRetry(session: Session, mutate: Parameters<TokenStore['update']>[0]): Promise<StoredUser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await session.store.update(mutate)) as StoredUser;
    } catch (err) {
      if (!(err instanceof StoreWriteError) || attempt >= 3) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

async function handleRefreshFailure(ctx: RefreshFailureContext, err: unknown): Promise<AccessTokenResult> {
  const { session, email } = ctx;
  const invalid = await handleInvalidGrant(ctx, err);
  if (invalid) return result(email, invalid, false);
  // Box refused outright (429, invalid_client, other 4xx): the token was not rotated, so the marker goes. A
  // lost answer (network error, timeout) or a 5xx is ambiguous, since Box may have committed the rotation
  // before failing (box-api.md §6: "a write may still have been applied after a 503"): keep the marker so
  // the next run knows its attempt is the one replay (F8, F9).
  const ambiguous = err instanceof TemporaryError && (err.code === 'E_NETWORK' || isServerError(err));
  if (!ambiguous && !(err instanceof StoreWriteError)) {
    await session.store.update((doc) => clearInFlight(doc, email)).catch(() => undefined);
  }
  throw err;
}

function isServerError(err: TemporaryError): boolean {
  const status = err.details?.status;
  return typeof status === 'number' && status >= 500;
}
