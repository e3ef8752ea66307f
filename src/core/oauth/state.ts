/**
 * The OAuth `state`: a jose HS256 JWT with a random `jti`, an audience, the normalised email and `exp` 10
 * minutes (issue 5 step 2; STYLE.md "OAuth loopback"). It carries no secret: a JWS is readable by the
 * browser and by Box. Verification pins the algorithm (so `alg: none` and RS/HS confusion fail), checks
 * audience, expiry, max age and email, and, in the one-process flow, that the jti is the nonce this process
 * issued (replay of an older state fails). jose is imported lazily: `status` must not pay for it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const STATE_AUDIENCE = 'box-qc:oauth-callback';
export const STATE_TTL_SECONDS = 600;

export interface IssuedState {
  state: string;
  jti: string;
}

export interface StateClaims {
  jti: string;
  email: string;
}

export interface VerifyStateOptions {
  key: Uint8Array;
  email: string;
  /** ms since the epoch (the injected clock). */
  now: number;
  /** The nonce this process issued; omitted only in the two-step flow's second process. */
  expectedJti?: string;
}

/** Why a state was refused: for tests and debug logs only. The callback page never says which. */
export class StateRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`state rejected: ${reason}`);
    this.name = 'StateRejectedError';
  }
}

export async function issueState(key: Uint8Array, email: string, now: number): Promise<IssuedState> {
  const { SignJWT } = await import('jose');
  const jti = randomBytes(16).toString('base64url');
  const iat = Math.floor(now / 1000);
  const state = await new SignJWT({ email })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(jti)
    .setAudience(STATE_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + STATE_TTL_SECONDS)
    .sign(key);
  return { state, jti };
}

export async function verifyState(state: string | null | undefined, opts: VerifyStateOptions): Promise<StateClaims> {
  if (typeof state !== 'string' || state === '') throw new StateRejectedError('missing');
  // A JWT this long is not ours; do not hand megabytes to a parser.
  if (state.length > 2048) throw new StateRejectedError('too long');
  const { jwtVerify } = await import('jose');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(state, opts.key, {
      algorithms: ['HS256'],
      audience: STATE_AUDIENCE,
      maxTokenAge: `${STATE_TTL_SECONDS}s`,
      requiredClaims: ['jti', 'exp', 'iat', 'aud'],
      currentDate: new Date(opts.now),
    }));
  } catch (err) {
    throw new StateRejectedError((err as { code?: string }).code ?? 'invalid');
  }
  const { jti, email } = payload;
  if (typeof jti !== 'string' || typeof email !== 'string') throw new StateRejectedError('claims');
  if (!sameString(email, opts.email)) throw new StateRejectedError('email');
  if (opts.expectedJti !== undefined && !sameString(jti, opts.expectedJti)) throw new StateRejectedError('nonce');
  return { jti, email };
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
