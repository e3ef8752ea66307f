import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  INVITE_STATE_TTL_MS,
  inviteStatePkce,
  signInviteState,
  verifyInviteState,
} from '../../../src/core/invites/invite-state.js';
import { challengeFor } from '../../../src/core/oauth/pkce.js';

const key = randomBytes(32);
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const AUD = 'https://qc.example.com/box-qc/callback';
const HASH = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

describe('signed invite state', () => {
  it('verifies its own state and gives back the invite it is bound to and its nonce', () => {
    const { state, nonce } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    expect(state).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(state.length).toBeLessThan(200);
    const v = verifyInviteState(key, state, { audience: AUD, now: NOW + 1000 });
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.nonce).toBe(nonce);
      expect(HASH.startsWith(v.inviteHashPrefix)).toBe(true);
      expect(OTHER.startsWith(v.inviteHashPrefix)).toBe(false);
      expect(v.inviteHashPrefix.length).toBeGreaterThanOrEqual(32);
    }
  });

  it('never holds the invite hash whole (the state travels through Box)', () => {
    const { state } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    expect(state.includes(HASH)).toBe(false);
  });

  it('rejects a forged signature, a tampered payload and another key', () => {
    const { state } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    const parts = state.split('.');
    const mac = parts.at(-1)!;
    const flipped = `${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
    const forged = [...parts.slice(0, -1), flipped].join('.');
    expect(verifyInviteState(key, forged, { audience: AUD, now: NOW })).toEqual({ ok: false, reason: 'signature' });
    const tampered = state.replace(HASH.slice(0, 32), OTHER.slice(0, 32));
    expect(tampered).not.toBe(state);
    expect(verifyInviteState(key, tampered, { audience: AUD, now: NOW })).toEqual({ ok: false, reason: 'signature' });
    expect(verifyInviteState(randomBytes(32), state, { audience: AUD, now: NOW })).toEqual({
      ok: false,
      reason: 'signature',
    });
  });

  it('rejects a state for another audience (another box-qc serve, another callback)', () => {
    const { state } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    const v = verifyInviteState(key, state, { audience: 'https://evil.example.com/callback', now: NOW });
    expect(v.ok).toBe(false);
  });

  it('rejects an expired state (10 minutes) and one from the future', () => {
    const { state } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    expect(INVITE_STATE_TTL_MS).toBe(600_000);
    expect(verifyInviteState(key, state, { audience: AUD, now: NOW + INVITE_STATE_TTL_MS - 1 }).ok).toBe(true);
    expect(verifyInviteState(key, state, { audience: AUD, now: NOW + INVITE_STATE_TTL_MS + 1 })).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyInviteState(key, state, { audience: AUD, now: NOW - 120_000 }).ok).toBe(false);
  });

  it('rejects garbage of every shape without throwing', () => {
    for (const bad of ['', '.', '..', '...', 'a.b.c.d', 'x'.repeat(5000), 'v1.zz.1.2.3', '\u0000', 'v1..0..']) {
      const v = verifyInviteState(key, bad, { audience: AUD, now: NOW });
      expect(v.ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('compares the signature in constant time (timingSafeEqual, never ===)', async () => {
    // ESM namespaces cannot be spied on; the module's text is the check that no early-exit compare is used.
    const { readFile } = await import('node:fs/promises');
    const src = await readFile(new URL('../../../src/core/invites/invite-state.ts', import.meta.url), 'utf8');
    expect(src).toMatch(/timingSafeEqual\(/);
    expect(src).not.toMatch(/mac\s*[!=]==|[!=]==\s*mac/i);
  });

  it('derives the PKCE verifier from the key and nonce: two instances sharing the key agree', () => {
    const { nonce } = signInviteState(key, { inviteHash: HASH, audience: AUD, now: NOW });
    const a = inviteStatePkce(key, nonce);
    const b = inviteStatePkce(Buffer.from(key), nonce);
    expect(a).toEqual(b);
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(a.method).toBe('S256');
    expect(a.challenge).toBe(challengeFor(a.verifier));
    expect(inviteStatePkce(key, `${nonce}x`).verifier).not.toBe(a.verifier);
    expect(inviteStatePkce(randomBytes(32), nonce).verifier).not.toBe(a.verifier);
  });
});
