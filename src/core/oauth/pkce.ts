/**
 * PKCE S256 (RFC 7636). Box does not document PKCE, but its own CLI sends a challenge (box-api.md §1), and the
 * emulator enforces it when a challenge was given. Sending it costs nothing; the signed state stays the real
 * CSRF defence (reliability.md §4).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface Pkce {
  /** 43-128 chars of [A-Za-z0-9-._~] (RFC 7636 §4.1). Never printed, never put in the state. */
  verifier: string;
  challenge: string;
  method: 'S256';
}

export function challengeFor(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** One-process flow: 64 random bytes -> an 86-char verifier held in memory only. */
export function createPkce(): Pkce {
  const verifier = randomBytes(64).toString('base64url');
  return { verifier, challenge: challengeFor(verifier), method: 'S256' };
}

/**
 * Two-step flow (`--print-url`, then `--redirected-url` in another process): the verifier must survive
 * between processes without being written anywhere or put in the JWT (a JWS is readable by the browser and
 * Box). It is derived as HMAC-SHA256(state key, "box-qc pkce v1" || jti): the state key is 32 random bytes
 * in a 0600 file in the store folder, the jti 16 random bytes. Whoever can read the key can read the token
 * store beside it anyway, so this adds no new secret at rest.
 */
export function derivePkce(stateKey: Uint8Array, jti: string): Pkce {
  const verifier = createHmac('sha256', stateKey).update(`box-qc pkce v1\u0000${jti}`, 'utf8').digest('base64url');
  return { verifier, challenge: challengeFor(verifier), method: 'S256' };
}
