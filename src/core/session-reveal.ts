/**
 * Where the refresh protocol meets encryption at rest (issue 19): it works on stored values throughout (the
 * fence, "did someone rotate", the 401 check all compare what the store holds) and opens a value only at the
 * edges: the access token handed to the caller, and the caller's 401'd token matched against the record.
 */
import type { Session, TokenRequest } from './session-types.js';
import { isEncrypted } from './store/crypto/envelope.js';
import { revealToken } from './store/crypto/reveal.js';
import type { StoredUser } from './store/types.js';

/**
 * A 401'd access token is compared with the stored value (session-due.ts): the caller holds the plaintext, so
 * it is matched against the record it came from and replaced by that record's stored value.
 */
export async function asStoredRequest(
  session: Session,
  email: string,
  seen: StoredUser,
  req: TokenRequest,
): Promise<TokenRequest> {
  const rejected = req.rejectedAccessToken;
  if (rejected === undefined || !isEncrypted(seen.access_token)) return req;
  const same = (await revealToken(session.store, email, 'access_token', seen.access_token)) === rejected;
  return same ? { ...req, rejectedAccessToken: seen.access_token } : req;
}

/** The result with its access token opened (`user` stays the record as stored). */
export async function withAccessTokenOpened<T extends { accessToken: string }>(
  session: Session,
  email: string,
  r: T,
): Promise<T> {
  return { ...r, accessToken: await revealToken(session.store, email, 'access_token', r.accessToken) };
}
