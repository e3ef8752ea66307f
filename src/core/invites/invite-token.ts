/**
 * Invite tokens: 32 bytes from the CSPRNG (256 bits; issue 17 asks at least 128), base64url, 43 characters.
 * Only the SHA-256 of a token is stored. A plain hash (not a slow KDF) is enough: the token is random, not a
 * password, so there is nothing to guess from its hash.
 */
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** Whether `token` has the shape newInviteToken makes: anything else is unknown, without being hashed. */
export function isInviteToken(token: string): boolean {
  return TOKEN_RE.test(token);
}

export function hashInviteToken(token: string): string {
  // Callers check isInviteToken first and answer "unknown"; reaching here with another shape is a bug.
  if (!isInviteToken(token)) throw new TypeError('not an invite token');
  return createHash('sha256').update(token, 'ascii').digest('hex');
}

export function newInviteToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashInviteToken(token) };
}
