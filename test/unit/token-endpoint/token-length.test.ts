/**
 * The store reserves room for tokens up to MAX_STORED_TOKEN_BYTES (core/store/write-reserve.ts): a longer
 * "token" could overflow the reserved temp on a full disk, so the token endpoint treats it as no token at all
 * (a refresh_token like that: rotation unknown, marker kept; an access_token: missing, expired).
 */
import { describe, expect, it } from 'vitest';
import { isOAuthToken } from '../../../src/core/oauth/token-endpoint.js';
import { MAX_STORED_TOKEN_BYTES } from '../../../src/core/store/types.js';

describe('token length and the store reservation', () => {
  it('a token as long as the store reserves for is a token', () => {
    expect(isOAuthToken('a'.repeat(MAX_STORED_TOKEN_BYTES))).toBe(true);
  });

  it('a longer one is not', () => {
    expect(isOAuthToken('a'.repeat(MAX_STORED_TOKEN_BYTES + 1))).toBe(false);
  });

  it('counts the bytes as stored: quotes and backslashes take two', () => {
    expect(isOAuthToken('\\'.repeat(MAX_STORED_TOKEN_BYTES / 2))).toBe(true);
    expect(isOAuthToken('"'.repeat(MAX_STORED_TOKEN_BYTES / 2 + 1))).toBe(false);
  });
});
