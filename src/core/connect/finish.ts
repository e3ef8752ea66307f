/**
 * After the callback: exchange the code at once (Box codes live 30 s, box-api.md §1), ask Box who granted
 * it (`/users/me`, §4), then save pair and identity under the user's lock (issue 5 step 5). The email is the
 * QC identity; the Box login may differ (allowed), but a change of Box user for this email is reported.
 */
import type { HttpContext } from '../http/request.js';
import type { BoxIdentity, StoreDocument, TokenPair, TokenStore } from '../store/types.js';
import type { ClientCredentials } from '../../config.js';
import { BoxQcError, OperationError } from '../../errors.js';
import { recordHistory } from '../history/record.js';
import type { HistoryInput } from '../history/types.js';
import { getUser, saveUserTokens } from '../store/index.js';
import { applyHealthy, healthStamp } from '../health/state.js';
import { historyTransition, transitionIn } from '../health/history-hook.js';
import type { PendingHealthEvent } from '../health/types.js';
import { onlyUser } from '../store/scoped.js';

export interface FinishPorts {
  store: TokenStore;
  http: () => Promise<HttpContext>;
  apiBaseUrl: URL;
  credentials: ClientCredentials;
  now(): number;
  /** Holds Ctrl-C while the fresh pair is written (deps.interrupts.critical). */
  critical<T>(fn: () => Promise<T>): Promise<T>;
  signal?: AbortSignal;
  /** This host's name, for the connection.recovered event a reconnect records (issue 18). */
  host?: string;
}

export interface ConnectResult {
  email: string;
  box: BoxIdentity;
  /** The Box user this email pointed to before, when it was a different one. */
  previousBox?: { id?: string; login?: string; name?: string };
  reconnected: boolean;
  accessTokenExpiresAt: string;
}

export async function finishConnect(
  ports: FinishPorts,
  email: string,
  code: string,
  pkce: { redirectUri: string; codeVerifier: string },
): Promise<ConnectResult> {
  let grant: ReceivedGrant;
  try {
    grant = await exchangeAndIdentify(ports, code, pkce);
  } catch (err) {
    await recordHistory(ports.store, connectFailedEntry(email, err));
    throw err;
  }
  const saved = await ports.store.withUserLock(
    email,
    () => ports.critical(() => ports.store.update((doc) => saveGrant(doc, email, grant, ports.host), onlyUser(email))),
    ports.signal ? { signal: ports.signal } : undefined,
  );
  // The audit log (issue 18), once the save is committed.
  await recordHistory(ports.store, connectedEntry(saved.result, grant.pair.requestId));
  await historyTransition(ports.store, email, saved.transition);
  return saved.result;
}

/** A code exchanged for a pair, and who granted it: what a save needs. */
export interface ReceivedGrant {
  /** With Box's request id of the token answer, for the audit log. */
  pair: TokenPair & { requestId?: string | undefined };
  box: BoxIdentity;
  /** When the token answer arrived (ms): the pair's expiry counts from here. */
  receivedAt: number;
}

/**
 * The code exchanged at once, then `/users/me`. Shared by `connect` and the invite flow (core/invites/flow.ts).
 * A code Box refuses is an OperationError (E_CODE_EXPIRED or E_CODE_REJECTED, exit 1).
 */
export async function exchangeAndIdentify(
  ports: Pick<FinishPorts, 'http' | 'apiBaseUrl' | 'credentials' | 'now'>,
  code: string,
  pkce: { redirectUri: string; codeVerifier: string },
): Promise<ReceivedGrant> {
  const [{ exchangeCode, InvalidGrantError }, { getCurrentUser }] = await Promise.all([
    import('../oauth/token-endpoint.js'),
    import('../box/client.js'),
  ]);
  const http = await ports.http();
  let pair;
  try {
    pair = await exchangeCode({ http, apiBaseUrl: ports.apiBaseUrl, credentials: ports.credentials }, code, pkce);
  } catch (err) {
    if (err instanceof InvalidGrantError) throw codeRefused(err.kind, err);
    throw err;
  }
  const receivedAt = ports.now();
  const box = await getCurrentUser({ http, apiBaseUrl: ports.apiBaseUrl }, pair.accessToken);
  return { pair, box, receivedAt };
}

/** What saveGrant did: the result for the caller, and the health transition to record once committed. */
export interface SavedGrant {
  result: ConnectResult;
  /** A reconnect heals a dead (or failing) connection in the same write (issue 18): connection.recovered. */
  transition?: PendingHealthEvent;
}

/**
 * The save of a new grant, inside update() (pure on `doc`): generation, identity, reconnect and in-flight
 * markers cleared (document.ts saveUserTokens), the connection's health back to healthy. The one save
 * `connect` and the invite flow both make. `host` names this host in the recovered event.
 */
export function saveGrant(doc: StoreDocument, email: string, grant: ReceivedGrant, host = ''): SavedGrant {
  const { pair, box, receivedAt } = grant;
  const stamp = healthStamp(receivedAt, host);
  const prev = getUser(doc, email);
  const saved = saveUserTokens(doc, email, pair, box, receivedAt);
  const transition = transitionIn(applyHealthy(doc, email, prev, 'connected', stamp), stamp);
  const result: ConnectResult = {
    email,
    box,
    reconnected: prev !== undefined,
    accessTokenExpiresAt: saved.access_token_expires_at,
  };
  if (prev?.box_user_id !== undefined && prev.box_user_id !== box.id) {
    result.previousBox = { id: prev.box_user_id, login: prev.box_user_login, name: prev.box_user_name };
  }
  return transition ? { result, transition } : { result };
}

/** The audit log's line for a saved connect (issue 18): a change of Box user is named by id (not a secret). */
export function connectedEntry(result: ConnectResult, requestId: string | undefined): HistoryInput {
  const changed = result.previousBox?.id;
  return {
    event: 'connect',
    email: result.email,
    outcome: result.reconnected ? 'reconnected' : 'connected',
    ...(requestId !== undefined ? { box_request_id: requestId } : {}),
    ...(changed !== undefined ? { detail: `Box user changed from id ${changed} to id ${result.box.id}` } : {}),
  };
}

export function connectFailedEntry(email: string, err: unknown): HistoryInput {
  const requestId = err instanceof BoxQcError ? err.details?.requestId : undefined;
  return {
    event: 'connect',
    email,
    outcome: 'failed',
    detail: err instanceof BoxQcError ? err.code : 'E_INTERNAL',
    ...(typeof requestId === 'string' ? { box_request_id: requestId } : {}),
  };
}

/** A code Box no longer accepts is a failed connect (exit 1), not a reconnect-required state (exit 4). */
function codeRefused(kind: 'expired' | 'invalid', cause: unknown): OperationError {
  if (kind === 'expired') {
    return new OperationError(
      'E_CODE_EXPIRED',
      'the authorization code expired (Box codes live 30 seconds): run connect again',
      {
        hint: 'with --redirected-url, paste the address within 30 seconds of granting access',
        cause,
      },
    );
  }
  return new OperationError(
    'E_CODE_REJECTED',
    'Box refused the authorization code (already used, or issued to another app): run connect again',
    { cause },
  );
}
