/**
 * The refusals of encryption at rest (issue 19): a key that is configured wrongly, a store holding encrypted
 * values that no configured key opens, a value that fails to authenticate. All exit 2 (configuration or a
 * store box-qc cannot use), one line naming the user and the key id, never a byte of a key or a token. They
 * are thrown before anything is written or sent to Box.
 */
import { ConfigError, StoreError } from '../../../errors.js';

/** BOX_QC_KEY_FILE / BOX_QC_KEY is set but unusable (mode, owner, a malformed line). Exit 2. */
export function keyConfigError(message: string, hint?: string): ConfigError {
  return new ConfigError(message, { code: 'E_KEY_CONFIG', ...(hint !== undefined ? { hint } : {}) });
}

/** A stored value that cannot be opened: no key configured, an unknown key id, a failed authentication. */
export class TokenKeyError extends StoreError {}

/** The codes of TokenKeyError: `refresh --all` reports such a user as failed and exits 2 (refresh-all.ts). */
export const TOKEN_KEY_CODES: ReadonlySet<string> = new Set([
  'E_KEY_MISSING',
  'E_KEY_UNKNOWN',
  'E_TOKEN_AUTH',
  'E_TOKEN_FORMAT',
  'E_STORE_ID_MISSING',
]);

/** Encrypted values whose identity (store_id) is gone: a new one would orphan them (review of issue 19, #5). */
export function storeIdMissingError(location: string, email: string): TokenKeyError {
  return new TokenKeyError(
    'E_STORE_ID_MISSING',
    location,
    `${email}: the token store holds encrypted values but no store_id (their identity); nothing was written`,
    { hint: 'restore the top-level "store_id" field from a backup of this store', details: { email } },
  );
}

export function keyMissingError(location: string, email: string, keyId: string): TokenKeyError {
  return new TokenKeyError(
    'E_KEY_MISSING',
    location,
    `${email}: the token store holds values encrypted with key ${keyId} and no key is configured; nothing was written or sent to Box`,
    {
      hint: `set BOX_QC_KEY_FILE (a 0600 file) or BOX_QC_KEY to the key text that holds ${keyId}`,
      details: { email, key_id: keyId },
    },
  );
}

export function keyUnknownError(location: string, email: string, keyId: string): TokenKeyError {
  return new TokenKeyError(
    'E_KEY_UNKNOWN',
    location,
    `${email}: the stored token is encrypted with key ${keyId}, which the configured key text does not hold; nothing was written or sent to Box`,
    { hint: `add the line for ${keyId} to BOX_QC_KEY_FILE (or BOX_QC_KEY)`, details: { email, key_id: keyId } },
  );
}

export function tokenAuthError(location: string, email: string, keyId: string, field: string): TokenKeyError {
  return new TokenKeyError(
    'E_TOKEN_AUTH',
    location,
    `${email}: the stored ${field} does not authenticate with key ${keyId} (a wrong key under that id, or a value tampered with or moved from another user or field); nothing was written or sent to Box`,
    {
      hint: `check that key ${keyId} is the one the store was encrypted with; a value that is not ${email}'s own needs \`box-qc connect --email ${email}\``,
      details: { email, key_id: keyId, field },
    },
  );
}

export function tokenFormatError(location: string, email: string, field: string): TokenKeyError {
  return new TokenKeyError(
    'E_TOKEN_FORMAT',
    location,
    `${email}: the stored ${field} starts with "enc:" but is not an enc:v1 value this version can read; nothing was written or sent to Box`,
    { details: { email, field } },
  );
}

/**
 * An update made with UpdateOptions.plaintextOnly met an encrypted value in the store, as its commit read it
 * under the lock, and nothing of it was written. The encryption wrapper (crypto-store.ts) answers with the
 * E_KEY_MISSING error naming a user and the key id (this one only if that user's value vanished meanwhile).
 */
export class StoreHoldsCiphertextError extends TokenKeyError {
  constructor(location: string) {
    super('E_KEY_MISSING', location, 'the token store holds encrypted values and no key is configured', {
      hint: 'set BOX_QC_KEY_FILE (a 0600 file) or BOX_QC_KEY to the key text the store was encrypted with',
    });
  }
}
