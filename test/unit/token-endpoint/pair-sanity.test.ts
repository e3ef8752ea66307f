/**
 * REVIEW-1 finding 2, the protocol half: what a 200 hands to the save always makes a record the store accepts.
 *  - expires_in: whatever number the JSON holds (1e400 parses as Infinity; 2.5e11..8.6e12 s would format as
 *    "+010000-...Z", which the store rejects) ends as a lifetime in [0, MAX_PLAUSIBLE_EXPIRES_IN_S].
 *  - tokens: OAuth tokens are 1*VSCHAR (RFC 6749 appendix A: %x20-7E). Anything else (U+0000, which jsonb
 *    refuses; a lone surrogate, which jsonb refuses and URLSearchParams would send as U+FFFD; control and
 *    bidi characters) is not a token we could store or present: a refresh_token like that counts as missing
 *    (rotation unknown, marker kept), an access_token like that as missing (expired, refreshed on next use).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext } from '../../../src/core/http/request.js';
import {
  exchangeCode,
  MAX_PLAUSIBLE_EXPIRES_IN_S,
  refreshTokens,
  RotationUnknownError,
} from '../../../src/core/oauth/token-endpoint.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { formatTimestamp, validateDocument } from '../../../src/core/store/format.js';
import { BoxApiError } from '../../../src/errors.js';
import { startLocalServer, type Reply } from '../http/local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const raw =
  (body: string): Reply =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

async function setup(replies: Reply[]) {
  const server = await startLocalServer(replies);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  return { http, apiBaseUrl: server.url, credentials: { clientId: 'cid', clientSecret: 'SHH' } };
}

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

/** The record the save would write validates as a store document. */
function savesCleanly(pair: { accessToken: string; refreshToken: string; expiresIn: number }) {
  const doc = {
    version: 1 as const,
    users: {
      'a@x.com': {
        access_token: 'AT1',
        refresh_token: 'RT1',
        access_token_expires_at: formatTimestamp(NOW),
        connected_at: formatTimestamp(NOW),
        updated_at: formatTimestamp(NOW),
      },
    },
  };
  saveUserTokens(doc, 'a@x.com', pair, undefined, NOW, { fence: { refreshToken: 'RT1' } });
  expect(() => validateDocument(JSON.parse(JSON.stringify(doc)), '/s/tokens.json')).not.toThrow();
}

describe('expires_in always makes a timestamp the store accepts', () => {
  it.each(['1e400', '-1e400', '2.5e11', '8.6e12', '1e308', '-0', '5e-324', '86400.9', '3600.5'])(
    'expires_in %s',
    async (n) => {
      const opts = await setup([raw(`{"access_token":"AT2","refresh_token":"RT2","expires_in":${n}}`)]);
      const pair = await refreshTokens(opts, 'RT1');
      expect(Number.isFinite(pair.expiresIn)).toBe(true);
      expect(pair.expiresIn).toBeGreaterThanOrEqual(0);
      expect(pair.expiresIn).toBeLessThanOrEqual(MAX_PLAUSIBLE_EXPIRES_IN_S);
      savesCleanly(pair);
    },
  );
});

const BAD: Array<[string, string]> = [
  ['U+0000', 'RT\\u0000x'],
  ['a lone high surrogate', 'RT\\ud800x'],
  ['a lone low surrogate', 'RT\\udc00'],
  ['an escape sequence', 'RT\\u001b[31m'],
  ['U+007F', 'RT\\u007f'],
  ['a bidi override', 'RT\\u202e'],
  ['a newline', 'RT\\nx'],
];

describe('tokens that are not RFC 6749 VSCHAR', () => {
  it.each(BAD)('a refresh_token with %s is a rotation unknown (exit 75, marker kept), never saved', async (_n, tok) => {
    const opts = await setup([raw(`{"access_token":"AT2","refresh_token":"${tok}","expires_in":3600}`)]);
    const err = await refreshTokens(opts, 'RT1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RotationUnknownError);
    expect((err as Error).message).toMatch(/may be lost/);
  });

  it.each(BAD)(
    'an access_token with %s counts as missing: the refresh token is saved, the access token expired',
    async (_n, tok) => {
      const opts = await setup([raw(`{"access_token":"${tok}","refresh_token":"RT2","expires_in":3600}`)]);
      const pair = await refreshTokens(opts, 'RT1');
      expect(pair).toMatchObject({ accessToken: '', refreshToken: 'RT2', expiresIn: 0 });
      expect(pair.warnings.join(' ')).toMatch(/access_token/);
      savesCleanly(pair);
    },
  );

  it.each(BAD)("connect's code exchange: a token with %s is a bad answer, nothing saved", async (_n, tok) => {
    const opts = await setup([raw(`{"access_token":"AT2","refresh_token":"${tok}","expires_in":3600}`)]);
    await expect(exchangeCode(opts, 'code', {})).rejects.toBeInstanceOf(BoxApiError);
  });

  it('a token of visible ASCII, space included (VSCHAR), is kept as it is', async () => {
    const tok = 'R T~!"#$%&\'()*+,-./09:;<=>?@AZ[\\\\]^_`az{|}';
    const opts = await setup([
      raw(`{"access_token":"AT2","refresh_token":"${tok.replace(/"/g, '\\"')}","expires_in":3600}`),
    ]);
    const pair = await refreshTokens(opts, 'RT1');
    expect(pair.refreshToken).toBe(JSON.parse(`"${tok.replace(/"/g, '\\"')}"`));
    savesCleanly(pair);
  });
});
