/**
 * The store reserves room for tokens up to MAX_STORED_TOKEN_BYTES (core/store/file/write-reserve.ts). A longer token
 * is still a token and its pair is saved (refusing it would lose the rotation for certain, review 3 #5); the
 * answer carries a warning that only a disk with free space could take it.
 */
import { describe, expect, it } from 'vitest';
import { isOAuthToken, parseRefreshAnswer } from '../../../src/core/oauth/token-endpoint.js';
import type { HttpResponse } from '../../../src/core/http/request.js';
import { MAX_STORED_TOKEN_BYTES } from '../../../src/core/store/types.js';

const answer = (body: unknown): HttpResponse => ({
  status: 200,
  headers: {},
  text: JSON.stringify(body),
  requestId: undefined,
  label: 'POST /oauth2/token',
});

describe('token length and the store reservation', () => {
  it('a token longer than the store reserves room for is still a token', () => {
    expect(isOAuthToken('a'.repeat(MAX_STORED_TOKEN_BYTES + 1))).toBe(true);
  });

  it('its pair is kept, with a warning; a token within the reservation gets none', () => {
    const long = parseRefreshAnswer(
      answer({ access_token: 'at', refresh_token: 'r'.repeat(MAX_STORED_TOKEN_BYTES + 1), expires_in: 3600 }),
    );
    expect(long.refreshToken).toHaveLength(MAX_STORED_TOKEN_BYTES + 1);
    expect(long.warnings.join(' ')).toMatch(/reserves room/);
    expect(long.warnings.join(' ')).not.toContain('rrrr');
    const fits = parseRefreshAnswer(
      answer({ access_token: 'at', refresh_token: '\\'.repeat(MAX_STORED_TOKEN_BYTES / 2), expires_in: 3600 }),
    );
    expect(fits.warnings).toEqual([]);
  });

  it('counts the bytes as stored: quotes and backslashes take two', () => {
    const quoted = parseRefreshAnswer(
      answer({ access_token: 'at', refresh_token: '"'.repeat(MAX_STORED_TOKEN_BYTES / 2 + 1), expires_in: 3600 }),
    );
    expect(quoted.warnings.join(' ')).toMatch(/reserves room/);
  });
});
