/**
 * The one way a caller turns a stored token value into the token (issue 19): the refresh POST, the access
 * token handed out, the revoke. Plaintext passes through without loading anything; an encrypted value is opened
 * by the store's TokenCrypto, or refused (exit 2) before anything is sent to Box.
 */
import type { TokenStore } from '../types.js';
import { isEncrypted, keyIdOf } from './envelope.js';
import { keyMissingError } from './errors.js';

export async function revealToken(
  store: TokenStore,
  email: string,
  field: 'access_token' | 'refresh_token',
  stored: string,
): Promise<string> {
  if (!isEncrypted(stored)) return stored;
  if (!store.tokenCrypto) throw keyMissingError(store.location, email, keyIdOf(stored) ?? '?');
  return store.tokenCrypto.reveal(email, field, stored);
}
