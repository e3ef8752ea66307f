import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { issueState, verifyState, STATE_AUDIENCE, StateRejectedError } from '../../../src/core/oauth/state.js';

const key = new Uint8Array(randomBytes(32));
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const email = 'alice@example.com';

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StateRejectedError);
    return (err as StateRejectedError).reason;
  }
  throw new Error('expected rejection');
}

describe('OAuth state JWT', () => {
  it('verifies a state it issued, with its nonce and email', async () => {
    const { state, jti } = await issueState(key, email, NOW);
    const claims = await verifyState(state, { key, email, now: NOW + 1000, expectedJti: jti });
    expect(claims).toEqual({ jti, email });
    const [header] = state.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
  });

  it('holds no secret: the payload is jti, aud, email, iat, exp only', async () => {
    const { state } = await issueState(key, email, NOW);
    const payload = JSON.parse(Buffer.from(state.split('.')[1]!, 'base64url').toString());
    expect(Object.keys(payload).sort()).toEqual(['aud', 'email', 'exp', 'iat', 'jti']);
    expect(payload.aud).toBe(STATE_AUDIENCE);
    expect(payload.exp - payload.iat).toBe(600);
  });

  it('rejects an expired state (10 minutes)', async () => {
    const { state, jti } = await issueState(key, email, NOW);
    expect(await reason(verifyState(state, { key, email, now: NOW + 601_000, expectedJti: jti }))).toMatch(
      /EXPIRED|FAILED/,
    );
  });

  it('rejects a state for another email', async () => {
    const { state } = await issueState(key, email, NOW);
    expect(await reason(verifyState(state, { key, email: 'bob@example.com', now: NOW }))).toBe('email');
  });

  it('rejects a replayed state from an earlier run (other nonce)', async () => {
    const old = await issueState(key, email, NOW);
    const current = await issueState(key, email, NOW);
    expect(await reason(verifyState(old.state, { key, email, now: NOW, expectedJti: current.jti }))).toBe('nonce');
  });

  it('rejects a state signed with another key', async () => {
    const { state } = await issueState(new Uint8Array(randomBytes(32)), email, NOW);
    expect(await reason(verifyState(state, { key, email, now: NOW }))).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('rejects alg:none and an edited payload', async () => {
    const { state, jti } = await issueState(key, email, NOW);
    const [, payload] = state.split('.');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    await reason(verifyState(none, { key, email, now: NOW, expectedJti: jti }));
    const parsed = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const edited = [state.split('.')[0], b64({ ...parsed, email: 'mallory@example.com' }), state.split('.')[2]].join(
      '.',
    );
    await reason(verifyState(edited, { key, email: 'mallory@example.com', now: NOW }));
  });

  it('rejects missing, empty and oversized states', async () => {
    expect(await reason(verifyState(undefined, { key, email, now: NOW }))).toBe('missing');
    expect(await reason(verifyState('', { key, email, now: NOW }))).toBe('missing');
    expect(await reason(verifyState('x'.repeat(5000), { key, email, now: NOW }))).toBe('too long');
    await reason(verifyState('not.a.jwt', { key, email, now: NOW }));
  });
});
