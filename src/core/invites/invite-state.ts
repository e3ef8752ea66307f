/**
 * The OAuth `state` of an invite flow, and its PKCE verifier (issue 17). Not a JWT (core/oauth/state.ts is
 * for `connect`): the state travels through the browser and Box, so it is kept compact and holds nothing
 * secret: `v1.<invite hash prefix>.<expiry>.<nonce>.<mac>`.
 *
 * - the invite hash prefix (128 bits of the SHA-256 of the token, never the token, never the whole hash)
 *   binds the state to one invite: a state issued for invite A cannot finish invite B;
 * - the MAC is HMAC-SHA256 with the store's state key over the audience (the public callback URL, so a state
 *   issued by another box-qc deployment is refused) and the payload; compared with timingSafeEqual;
 * - it expires after 10 minutes; the nonce (16 random bytes) makes every state unique and seeds the PKCE
 *   verifier, HMAC(key, 'pkce:' + nonce): no per-flow storage, and every `serve` instance sharing the store
 *   (and so the key) derives the same verifier for a callback another instance started.
 * Replay is stopped by the invite itself: once used, its state no longer finds a pending invite.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { challengeFor, type Pkce } from '../oauth/pkce.js';

export const INVITE_STATE_TTL_MS = 10 * 60_000;
/** A state from further in the future than this is refused (hosts sharing a store keep clocks within ~10 s). */
const FUTURE_SKEW_MS = 60_000;
const PREFIX_CHARS = 32;
const VERSION = 'v1';
const STATE_RE = /^v1\.([0-9a-f]{32})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export interface SignedInviteState {
  state: string;
  nonce: string;
  expiresAt: number;
}

export type VerifiedInviteState =
  | { ok: true; inviteHashPrefix: string; nonce: string; expiresAt: number }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

function mac(key: Uint8Array, audience: string, payload: string): Buffer {
  return createHmac('sha256', key).update(`box-qc invite state ${VERSION}\u0000${audience}\u0000${payload}`).digest();
}

export function signInviteState(
  key: Uint8Array,
  input: { inviteHash: string; audience: string; now: number },
): SignedInviteState {
  const nonce = randomBytes(16).toString('base64url');
  const expiresAt = input.now + INVITE_STATE_TTL_MS;
  const payload = `${VERSION}.${input.inviteHash.slice(0, PREFIX_CHARS)}.${Math.floor(expiresAt / 1000).toString(36)}.${nonce}`;
  return { state: `${payload}.${mac(key, input.audience, payload).toString('base64url')}`, nonce, expiresAt };
}

export function verifyInviteState(
  key: Uint8Array,
  state: string,
  input: { audience: string; now: number },
): VerifiedInviteState {
  const m = state.length <= 200 ? STATE_RE.exec(state) : null;
  if (!m) return { ok: false, reason: 'malformed' };
  const [, prefix, exp, nonce, given] = m;
  const payload = state.slice(0, state.lastIndexOf('.'));
  const expected = mac(key, input.audience, payload);
  const actual = Buffer.from(given!, 'base64url');
  // The signature first, in constant time: nothing about the payload is trusted before it matches.
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
    return { ok: false, reason: 'signature' };
  const expiresAt = parseInt(exp!, 36) * 1000;
  if (!(input.now <= expiresAt) || expiresAt - input.now > INVITE_STATE_TTL_MS + FUTURE_SKEW_MS)
    return { ok: false, reason: 'expired' };
  return { ok: true, inviteHashPrefix: prefix!, nonce: nonce!, expiresAt };
}

/** The PKCE pair of the flow whose state carries `nonce` (43-character verifier, RFC 7636 §4.1). */
export function inviteStatePkce(key: Uint8Array, nonce: string): Pkce {
  const verifier = createHmac('sha256', key).update(`pkce:${nonce}`, 'utf8').digest('base64url');
  return { verifier, challenge: challengeFor(verifier), method: 'S256' };
}
