/**
 * getValidAccessToken(): THE one place that decides to refresh and persists rotation (issue 6 protocol,
 * steps 1-7; reliability.md §6, F1-F11). No path may present a refresh token to Box twice or lose a
 * rotated one:
 *  1. a fresh access token is used without any lock (one "fresh" past any believable lifetime, or issued in
 *     the future, was saved by a wrong clock and is refreshed: session-due.ts);
 *  2. otherwise take the user's cross-process lock, re-read, and adopt another process's rotation;
 *  3. reserve what the save needs before spending the refresh token (store.reserveWrite, released after
 *     the save), and never replay a refresh token whose in-flight marker is another live process's and
 *     younger than the POST bound + 15 s: wait for it to clear or age out (session-marker.ts, issue 15 D);
 *  4. mark the refresh in flight (`since` = right before the POST), then inside the signal-deferring
 *     critical section POST once and save the new pair at once, fenced on the refresh token we sent
 *     (FencedSaveError: never over a newer record; issue 15 C). The POST never carries the caller's signal
 *     (a library abort is honoured after the save); the save is retried for every error class within a
 *     time budget, and what outlives it is E_ROTATION_NOT_SAVED with the marker kept (session-save.ts);
 *  5. invalid_grant: re-read once, else mark needs_reconnect with Box's reason and keep the record;
 *  6. timeout / 5xx / 429: keep the old pair, TemporaryError, no retry; invalid_client: ConfigError; the
 *     marker goes only when Box provably did not rotate (session-failures.ts);
 *  7. concurrent callers in one process share one refresh (single flight);
 *  8. a 200 with a new refresh token is saved whatever else is wrong with it (issue 15 item 2): defaults are
 *     warned about (session.warn) and an access token of unknown life counts as expired; a caller that needs
 *     an access token and got none refreshes once more with the saved refresh token, else E_BOX_NO_ACCESS_TOKEN
 *     (exit 1, nothing lost). Nothing between the POST and the save may throw except the save itself.
 */
import { BoxApiError, ReconnectRequiredError } from '../errors.js';
import type { HttpContext } from './http/request.js';
import { refreshTokens, type ReceivedPair } from './oauth/token-endpoint.js';
import { getUser, saveUserTokens } from './store/document.js';
import { normalizeStoreEmail } from './store/format.js';
import { expiresAtOf, refreshReason } from './session-due.js';
import type { LockWaitInfo, StoredUser, TokenStore } from './store/types.js';
import type { Session, TokenRequest } from './session-types.js';
import { handleRefreshFailure, safeDebug, warn, type RefreshFailureContext } from './session-failures.js';
import { markerIdentity, markerOwner, mustWaitFor, waitOutForeignMarker } from './session-marker.js';
import { abortBeforePost, writeMarker } from './session-post-guard.js';
import { stopSignal, throwIfStopAsked } from './session-stop.js';
import { saveWithRetry, storedWith } from './session-save.js';
import { applyHealthy, healthStamp } from './health/state.js';
import { historyTransition, transitionIn } from './health/history-hook.js';
import type { HealthStamp } from './health/types.js';
import { revealToken } from './store/crypto/reveal.js';
import { asStoredRequest, withAccessTokenOpened } from './session-reveal.js';
import { recordHistory } from './history/record.js';
import { refreshedEntry, refreshFailedEntry } from './history/refresh-events.js';
import { readUser } from './store/scoped.js';

export { DEFAULT_MIN_VALID_MS, refreshReason } from './session-due.js';
export type { Session, TokenRequest } from './session-types.js';

export interface AccessTokenResult {
  email: string;
  accessToken: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** This call rotated the pair (false: fresh already, or adopted another process's rotation). */
  refreshed: boolean;
  user: StoredUser;
  /** What Box's answer lacked and was defaulted (already passed to session.warn). */
  warnings?: string[];
}

const inflight = new WeakMap<TokenStore, Map<string, Promise<AccessTokenResult>>>();

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

function result(email: string, user: StoredUser, refreshed: boolean, warnings?: string[]): AccessTokenResult {
  const r: AccessTokenResult = { email, accessToken: user.access_token, expiresAt: expiresAtOf(user), refreshed, user };
  if (warnings && warnings.length > 0) r.warnings = warnings;
  return r;
}

/** A valid access token for `email`, refreshing through the protocol when needed. */
export async function getValidAccessToken(
  session: Session,
  rawEmail: string,
  req: TokenRequest = {},
): Promise<AccessTokenResult> {
  const email = normalizeStoreEmail(rawEmail);
  return getValidAccessTokenFrom(session, email, getUser(await readUser(session.store, email), email), req);
}

/**
 * Same as getValidAccessToken, starting from a record the caller already read (refresh --all reads the store
 * once instead of once per user). Safe with a stale snapshot: a refresh always re-reads under the user lock.
 * The access token returned is the token itself; `user` is the record as stored (issue 19: values may be
 * encrypted).
 */
export async function getValidAccessTokenFrom(
  session: Session,
  email: string,
  snapshot: StoredUser | undefined,
  req: TokenRequest = {},
): Promise<AccessTokenResult> {
  const seen = usable(session, email)(snapshot);
  const r = await storedAccessToken(session, email, seen, await asStoredRequest(session, email, seen, req));
  return withAccessTokenOpened(session, email, r);
}

/** The protocol itself, on stored values: `accessToken` is the stored value until getValidAccessTokenFrom opens it. */
async function storedAccessToken(
  session: Session,
  email: string,
  seen: StoredUser,
  req: TokenRequest,
): Promise<AccessTokenResult> {
  const reason = refreshReason(seen, session.now(), req);
  if (!reason) return result(email, seen, false);
  // A live process's young marker is its own refresh still running: a fresh access token is still good to
  // use, and waiting for that refresh (step 3) would only delay this caller.
  if (
    reason === 'interrupted' &&
    mustWaitFor(session, seen.refresh_in_flight, await markerIdentity(session)) &&
    !refreshReason({ ...seen, refresh_in_flight: undefined }, session.now(), req)
  )
    return result(email, seen, false);
  let perStore = inflight.get(session.store);
  if (!perStore) inflight.set(session.store, (perStore = new Map<string, Promise<AccessTokenResult>>()));
  const pending = perStore.get(email);
  if (pending) return pending;
  const promise = refreshUnderLock(session, email, seen, req).finally(() => perStore.delete(email));
  perStore.set(email, promise);
  return promise;
}

/** How often a process waiting for a user lock looks for the holder's saved result (below). */
const ROTATION_POLL_MS = 50;

async function refreshUnderLock(
  session: Session,
  email: string,
  seen: StoredUser,
  req: TokenRequest,
): Promise<AccessTokenResult> {
  const check = usable(session, email);
  const isRotated = (current: StoredUser) =>
    (current.generation ?? 0) !== (seen.generation ?? 0) || current.refresh_token !== seen.refresh_token;
  // While another process holds the lock, poll the store for its saved result: once it is durable and fresh,
  // this waiter has what it came for and need not queue for the lock at all. Otherwise 31 waiters on one
  // refresh took the lock one after another, each noticing its turn only at its next 25-100 ms poll
  // (issue 8, lock storm). Reading without the lock is safe: a write is an atomic rename.
  const gotFresh = new AbortController();
  let fresh: StoredUser | undefined;
  let poll: NodeJS.Timeout | undefined;
  const lookForRotation = async () => {
    try {
      const current = check(getUser(await readUser(session.store, email), email));
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
  const stop = stopSignal(session.interrupts);
  const signal = stop ? AbortSignal.any([stop, gotFresh.signal]) : gotFresh.signal;
  try {
    return await session.store.withUserLock(
      email,
      async (locked) => {
        clearInterval(poll);
        // Step 3 (D): a young marker of another live process is waited out before anything else. The record is
        // read under the lock (by the lock's own round trip when the store can: UserLockOptions.readUser).
        const current = await waitOutForeignMarker(
          session,
          email,
          check(getUser(locked ?? (await readUser(session.store, email)), email)),
          check,
        );
        // Step 2: someone rotated while we waited for the lock (or before): use their result (F1, F22).
        const rotated = isRotated(current);
        if (rotated && !refreshReason(current, session.now(), { ...req, force: false }))
          return result(email, current, false);
        if (!rotated && !refreshReason(current, session.now(), req)) return result(email, current, false);
        return refreshWithFollowUp(session, email, current, req);
      },
      { signal, onWait, readUser: true },
    );
  } catch (err) {
    if (fresh !== undefined && !stop?.aborted) return result(email, fresh, false);
    throw err;
  } finally {
    clearInterval(poll);
  }
}

/** Step 8: an answer without an access token gets one more, ordinary refresh when the caller needs a token. */
async function refreshWithFollowUp(
  session: Session,
  email: string,
  current: StoredUser,
  req: TokenRequest,
): Promise<AccessTokenResult> {
  const first = await refreshNow(session, email, current);
  if (first.accessToken !== '' || req.accessTokenNeeded === false) return first;
  // The refresh token just saved is fresh and unspent: presenting it is a new refresh, not a replay.
  const second = await refreshNow(session, email, first.user);
  if (second.accessToken !== '')
    return { ...second, warnings: [...(first.warnings ?? []), ...(second.warnings ?? [])] };
  throw new BoxApiError(
    `${email}: Box answered two refreshes in a row without an access token (the new refresh token is saved; nothing was lost)`,
    { status: 200 },
    {
      code: 'E_BOX_NO_ACCESS_TOKEN',
      hint: 'try again later; run with --debug for Box request ids',
    },
  );
}

/** Steps 3-6, holding the user lock. */
async function refreshNow(session: Session, email: string, current: StoredUser): Promise<AccessTokenResult> {
  const credentials = session.credentials();
  // The fence compares stored values; Box gets the token itself, opened before anything is written (issue 19).
  const spent = current.refresh_token;
  const spentToken = await revealToken(session.store, email, 'refresh_token', spent);
  // A marker found under the lock (and not waited out above) was left by a process that died, or lost its
  // answer, mid-refresh (F8): this attempt is then the one replay of that same refresh token.
  const replay = current.refresh_in_flight !== undefined;
  // Output never fails the refresh window: the transport's --debug line for the 200 is written before it returns.
  // Nor does the caller's signal (a library's createSession({ signal }), REVIEW-1 finding 3): once the POST
  // is sent it runs to its own deadline and its answer is saved; the abort is honoured after the save.
  const { signal: _callersSignal, ...unabortable } = session.http;
  const http: HttpContext = {
    ...unabortable,
    log: safeDebug(session.http.log),
    timeoutMs: session.refreshTimeoutMs ?? 30_000,
  };
  const tokenOpts = { http, apiBaseUrl: session.apiBaseUrl, credentials };
  const owner = await markerOwner(session);
  let received: ReceivedPair | undefined;
  throwIfStopAsked(session.interrupts);
  // The HTTP module loads while the reservation and the marker are written (nothing is sent before the marker).
  session.http.pool.prepare?.(session.apiBaseUrl);
  // Step 3: never spend a refresh token whose successor could not be saved (F5, F6; issue 15 item 4).
  const reservation = await session.store.reserveWrite();
  let outcome: { saved: StoredUser } | { adopted: StoredUser };
  let stamp: HealthStamp | undefined;
  let posted = false;
  try {
    // The critical section starts before the marker: once the POST is sent, it and the save (and what a
    // failure leaves behind: REVIEW-2 #9) run to completion whatever signal arrives meanwhile; close() and
    // the signal exit wait for all of it.
    outcome = await session.interrupts.critical(async () => {
      let failure: RefreshFailureContext | undefined;
      try {
        const marker = await writeMarker(session, email, owner);
        // Nothing is sent yet: a stop asked for meanwhile, or a marker write too slow for its `since`, ends
        // here with the marker cleared (REVIEW-2 #1, #4, #10).
        await abortBeforePost(session, email, marker);
        failure = { session, email, spent, generation: current.generation ?? 0, replay, marker };
        posted = true;
        received = await refreshTokens(tokenOpts, spentToken);
        failure.received = received;
        const pair = received;
        const receivedAt = session.now();
        const health = (stamp = healthStamp(receivedAt, session.host));
        // Save at once, before any other request (step 4); retry the write: Box already rotated (F6). The
        // connection's state (issue 18) changes in the same write, never in one of its own.
        return {
          saved: await saveWithRetry(
            session.store,
            (doc) => {
              const before = getUser(doc, email);
              const saved = saveUserTokens(doc, email, pair, undefined, receivedAt, { fence: { refreshToken: spent } });
              return applyHealthy(doc, email, before, 'refreshed', health) ?? saved;
            },
            {
              email,
              alreadySaved: () => storedWith(session.store, email, pair.refreshToken),
              ...(session.saveBudgetMs !== undefined ? { budgetMs: session.saveBudgetMs } : {}),
              onRetry: (err, n) =>
                warn(
                  session,
                  `${email}: saving the new pair failed (attempt ${n}, retrying): ${err instanceof Error ? err.message : String(err)}`,
                ),
            },
          ),
        };
      } catch (err) {
        if (failure === undefined) throw err;
        return { adopted: await handleRefreshFailure(failure, err) };
      }
    });
  } catch (err) {
    // The audit log (issue 18), after whatever the failure left in the store is committed.
    if (posted) await recordHistory(session.store, refreshFailedEntry(email, err));
    throw err;
  } finally {
    await reservation.release().catch(() => undefined);
  }
  if ('adopted' in outcome) return result(email, outcome.adopted, false);
  const saved = outcome.saved;
  await recordHistory(session.store, refreshedEntry(email, received));
  if (stamp) await historyTransition(session.store, email, transitionIn(saved, stamp));
  const warnings = received?.warnings ?? [];
  for (const line of warnings) warn(session, `${email}: ${line}`);
  safeDebug(session.log).debug(`refreshed ${email} (generation ${saved.generation ?? '?'})`);
  // A signal deferred during the critical section is honoured now that the new pair is durable.
  throwIfStopAsked(session.interrupts);
  return result(email, saved, true, warnings);
}
