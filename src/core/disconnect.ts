/**
 * `disconnect`: revoke at Box with the refresh token (it kills the whole grant, box-api.md §3), then forget
 * the record locally, under the user's lock so that no refresh races the revoke. Other users are untouched.
 * A failed revoke never keeps the record: the person asked for it to be gone; the outcome says exactly what
 * happened at Box (issue 5).
 */
import type { TokenStore } from './store/types.js';
import { getUser, removeUser } from './store/index.js';
import { revealToken } from './store/crypto/reveal.js';
import { recordHistory } from './history/record.js';
import { onlyUser, readUser } from './store/scoped.js';

export type DisconnectOutcome =
  | 'revoked'
  /** Box: 400 invalid_token, the grant was already dead. */
  | 'already-invalid'
  /** Network error, timeout, 5xx or 429: still valid at Box until it expires. */
  | 'unreachable'
  /** Box refused the revoke for another reason (bad client credentials...). */
  | 'refused'
  | 'not-connected';

export interface DisconnectResult {
  email: string;
  outcome: DisconnectOutcome;
  /** Box's error code or our error code for 'refused' / 'unreachable'. */
  code?: string;
}

export type RevokeFn = (refreshToken: string) => Promise<'revoked' | 'already-invalid'>;

/** classify: maps a revoke error to 'unreachable' or 'refused' (the command knows the error classes). */
export async function disconnectUser(
  store: TokenStore,
  email: string,
  revoke: RevokeFn,
  classify: (err: unknown) => { outcome: 'unreachable' | 'refused'; code: string },
  signal?: AbortSignal,
): Promise<DisconnectResult> {
  return store.withUserLock(
    email,
    async () => {
      const user = getUser(await readUser(store, email), email);
      if (!user) return { email, outcome: 'not-connected' };
      // Opened before the revoke: a store box-qc cannot open is refused with nothing sent or removed (issue 19).
      const refreshToken = await revealToken(store, email, 'refresh_token', user.refresh_token);
      let result: DisconnectResult;
      try {
        result = { email, outcome: await revoke(refreshToken) };
      } catch (err) {
        result = { email, ...classify(err) };
      }
      await store.update((doc) => removeUser(doc, email), onlyUser(email));
      // The audit log (issue 18), once the record is gone for good.
      await recordHistory(store, {
        event: 'disconnect',
        email,
        outcome: result.outcome,
        ...(result.code !== undefined ? { detail: result.code } : {}),
      });
      return result;
    },
    signal ? { signal } : undefined,
  );
}
