import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashInviteToken, isInviteToken, newInviteToken } from '../../../src/core/invites/invite-token.js';

describe('invite tokens', () => {
  it('are 32 random bytes as 43 base64url characters, with their SHA-256 hex hash', () => {
    const a = newInviteToken();
    const b = newInviteToken();
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.token).not.toBe(b.token);
    expect(a.hash).toBe(createHash('sha256').update(a.token).digest('hex'));
    expect(hashInviteToken(a.token)).toBe(a.hash);
  });

  it('refuses anything that is not a token shape before hashing', () => {
    for (const bad of ['', 'x', `${'a'.repeat(42)}=`, 'a'.repeat(44), `${'a'.repeat(42)}/`, `${'a'.repeat(42)}\n`]) {
      expect(isInviteToken(bad), JSON.stringify(bad)).toBe(false);
      expect(() => hashInviteToken(bad)).toThrow();
    }
    expect(isInviteToken('a'.repeat(43))).toBe(true);
  });
});
