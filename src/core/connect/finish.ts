/**
 * After the callback: exchange the code at once (Box codes live 30 s, box-api.md §1), ask Box who granted
 * it (`/users/me`, §4), then save pair and identity under the user's lock (issue 5 step 5). The email is the
 * QC identity; the Box login may differ (allowed), but a change of Box user for this email is reported.
 */
import type { HttpContext } from '../http/request.js';
import type { BoxIdentity, TokenStore } from '../store/types.js';
import type { ClientCredentials } from '../../config.js';
import { OperationError } from '../../errors.js';
import { getUser, saveUserTokens } from '../store/index.js';
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
  return ports.store.withUserLock(
    email,
    () =>
      ports.critical(() =>
        ports.store.update((doc) => {
          const prev = getUser(doc, email);
          const saved = saveUserTokens(doc, email, pair, box, receivedAt);
          const result: ConnectResult = {
            email,
            box,
            reconnected: prev !== undefined,
            accessTokenExpiresAt: saved.access_token_expires_at,
          };
          if (prev?.box_user_id !== undefined && prev.box_user_id !== box.id) {
            result.previousBox = { id: prev.box_user_id, login: prev.box_user_login, name: prev.box_user_name };
          }
          return result;
        }, onlyUser(email)),
      ),
    ports.signal ? { signal: ports.signal } : undefined,
  );
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
