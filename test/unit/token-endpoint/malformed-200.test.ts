/**
 * Issue 15 item 2: once a refresh POST is sent, a 200 that carries a non-empty refresh_token is salvaged
 * whatever else is wrong with it (Box has already rotated: throwing the answer away loses the user). What
 * cannot be salvaged (no refresh token, a body that is not JSON) is reported as "rotation unknown" (exit 75),
 * never as a plain failure that would clear the in-flight marker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext } from '../../../src/core/http/request.js';
import { exchangeCode, MAX_PLAUSIBLE_EXPIRES_IN_S, refreshTokens } from '../../../src/core/oauth/token-endpoint.js';
import { BoxApiError, TemporaryError } from '../../../src/errors.js';
import { json, startLocalServer, text, type Reply } from '../http/local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(replies: Reply[]) {
  const server = await startLocalServer(replies);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  return { http, apiBaseUrl: server.url, credentials: { clientId: 'cid', clientSecret: 'SHH' } };
}

const GOOD = { access_token: 'AT2', expires_in: 3895, refresh_token: 'RT2', token_type: 'bearer' };

describe('refreshTokens: a malformed 200 with a refresh token is salvaged', () => {
  it.each([
    ['a string expires_in', { ...GOOD, expires_in: '3600' }, 0],
    ['a negative expires_in', { ...GOOD, expires_in: -5 }, 0],
    ['no expires_in', { ...GOOD, expires_in: undefined }, 0],
    ['a huge expires_in (1e12)', { ...GOOD, expires_in: 1e12 }, 3600],
  ])(
    '%s: keeps the pair with a warning (unknown life -> expiresIn 0, counts as expired; implausible -> 3600)',
    async (_n, body, expiresIn) => {
      const opts = await setup([json(200, body)]);
      const got = await refreshTokens(opts, 'RT1');
      expect(got).toMatchObject({ accessToken: 'AT2', refreshToken: 'RT2', expiresIn });
      expect(got.warnings).toHaveLength(1);
      expect(got.warnings[0]).toMatch(/expires_in/);
      expect(got.warnings.join(' ')).not.toMatch(/AT2|RT2/);
    },
  );

  it('no access_token: keeps the refresh token, access token empty and expired, with a warning', async () => {
    const opts = await setup([json(200, { ...GOOD, access_token: undefined })]);
    const got = await refreshTokens(opts, 'RT1');
    expect(got).toMatchObject({ accessToken: '', refreshToken: 'RT2', expiresIn: 0 });
    expect(got.warnings.join(' ')).toMatch(/access_token/);
  });

  it('a well-formed 200 has no warnings, and the plausibility cap is above every lifetime Box was seen to send', async () => {
    const opts = await setup([json(200, GOOD)]);
    expect((await refreshTokens(opts, 'RT1')).warnings).toEqual([]);
    expect(MAX_PLAUSIBLE_EXPIRES_IN_S).toBeGreaterThan(4123);
  });
});

describe('refreshTokens: a 200 that cannot be salvaged keeps the rotation "unknown" (exit 75)', () => {
  it.each([
    ['no refresh_token', json(200, { ...GOOD, refresh_token: undefined })],
    ['an empty refresh_token', json(200, { ...GOOD, refresh_token: '' })],
    ['a non-string refresh_token', json(200, { ...GOOD, refresh_token: 12345 })],
    ['an HTML body', text(200, '<html><body>captive portal</body></html>')],
    ['an empty body', text(200, '')],
  ])('%s -> E_ROTATION_UNKNOWN, exit 75, saying the connection may be lost', async (_n, reply) => {
    const opts = await setup([reply]);
    const err = await refreshTokens(opts, 'RT1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporaryError);
    expect(err).toMatchObject({ code: 'E_ROTATION_UNKNOWN', exitCode: 75 });
    expect((err as Error).message).toMatch(/may be lost/);
    expect((err as TemporaryError).hint).not.toMatch(/nothing was lost/);
  });
});

describe('exchangeCode (connect): nothing was stored before, so only a missing token is a plain failure', () => {
  it('a 200 without refresh_token is a plain failure (exit 1)', async () => {
    const opts = await setup([json(200, { ...GOOD, refresh_token: undefined })]);
    const err = await exchangeCode(opts, 'CODE', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxApiError);
    expect(err).toMatchObject({ exitCode: 1 });
  });

  it('a 200 without access_token is a plain failure (connect needs it to ask Box who granted)', async () => {
    const opts = await setup([json(200, { ...GOOD, access_token: undefined })]);
    await expect(exchangeCode(opts, 'CODE', {})).rejects.toMatchObject({ exitCode: 1 });
  });

  it('a 200 with a malformed expires_in is saved with the access token counted as expired', async () => {
    const opts = await setup([json(200, { ...GOOD, expires_in: 'soon' })]);
    await expect(exchangeCode(opts, 'CODE', {})).resolves.toMatchObject({
      accessToken: 'AT2',
      refreshToken: 'RT2',
      expiresIn: 0,
    });
  });
});
