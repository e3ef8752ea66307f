import { afterEach, describe, expect, it } from 'vitest';
import { createHttpContext, closeHttpContext, NetworkError } from '../../../src/core/http/request.js';
import { exchangeCode, InvalidGrantError, refreshTokens, revokeToken } from '../../../src/core/oauth/token-endpoint.js';
import { ConfigError, TemporaryError } from '../../../src/errors.js';
import { json, startLocalServer, text, type Reply } from '../http/local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(replies: Reply[], timeoutMs = 5000) {
  const server = await startLocalServer(replies);
  const lines: string[] = [];
  const http = await createHttpContext({ env: {}, log: { debug: (l) => lines.push(l) }, timeoutMs });
  cleanups.push(server.close, () => closeHttpContext(http));
  const opts = { http, apiBaseUrl: server.url, credentials: { clientId: 'cid', clientSecret: 'SHH' } };
  return { server, opts, lines };
}

const GOOD = { access_token: 'AT2', expires_in: 3895, restricted_to: [], refresh_token: 'RT2', token_type: 'bearer' };

describe('refreshTokens', () => {
  it('posts the four form fields to /oauth2/token and returns the validated pair', async () => {
    const { server, opts, lines } = await setup([json(200, GOOD)]);
    await expect(refreshTokens(opts, 'RT1')).resolves.toEqual({
      accessToken: 'AT2',
      refreshToken: 'RT2',
      expiresIn: 3895,
      warnings: [],
    });
    const req = server.requests[0]!;
    expect(req.url).toBe('/oauth2/token');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'RT1',
      client_id: 'cid',
      client_secret: 'SHH',
    });
    expect(lines.join('\n')).toContain('grant refresh_token');
    expect(lines.join('\n')).not.toMatch(/RT1|SHH|AT2/);
  });

  // A malformed 200 is no longer thrown away (issue 15 item 2): see malformed-200.test.ts.
  it.each([
    ['missing refresh_token', { ...GOOD, refresh_token: undefined }],
    ['empty refresh_token', { ...GOOD, refresh_token: '' }],
  ])('reports a 200 with %s as rotation unknown (exit 75), not a plain failure', async (_name, body) => {
    const { opts } = await setup([json(200, body)]);
    await expect(refreshTokens(opts, 'RT1')).rejects.toMatchObject({ code: 'E_ROTATION_UNKNOWN', exitCode: 75 });
  });

  it('maps invalid_grant "Refresh token has expired" to kind expired and "Invalid refresh token" to invalid', async () => {
    const { opts } = await setup([
      json(400, { error: 'invalid_grant', error_description: 'Refresh token has expired' }),
      json(400, { error: 'invalid_grant', error_description: 'Invalid refresh token' }),
    ]);
    await expect(refreshTokens(opts, 'RT1')).rejects.toMatchObject({ kind: 'expired', exitCode: 4 });
    const second = await refreshTokens(opts, 'RT1').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(InvalidGrantError);
    expect(second).toMatchObject({ kind: 'invalid' });
  });

  it('maps invalid_client to ConfigError E_INVALID_CLIENT (exit 2)', async () => {
    const { opts } = await setup([
      json(400, { error: 'invalid_client', error_description: 'The client credentials are invalid' }),
    ]);
    const err = await refreshTokens(opts, 'RT1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'E_INVALID_CLIENT', exitCode: 2 });
  });

  it('maps 429, 503 and HTML 502 to TemporaryError and sends exactly one request each (never retried)', async () => {
    const { server, opts } = await setup([
      json(429, { error: 'temporarily_unavailable' }, { 'retry-after': '1' }),
      json(503, { type: 'error' }),
      text(502, '<html>proxy</html>'),
    ]);
    for (let i = 0; i < 3; i++) await expect(refreshTokens(opts, `RT${i}`)).rejects.toBeInstanceOf(TemporaryError);
    expect(server.requests).toHaveLength(3);
  });

  it('maps a timeout to a NetworkError after one attempt', async () => {
    const { server, opts } = await setup([() => {}], 200);
    await expect(refreshTokens(opts, 'RT1')).rejects.toBeInstanceOf(NetworkError);
    expect(server.requests).toHaveLength(1);
  });

  it('maps other 4xx to BoxApiError carrying Box error code and request id', async () => {
    const { opts } = await setup([json(400, { error: 'invalid_request' }, { 'box-request-id': 'r9' })]);
    await expect(refreshTokens(opts, 'RT1')).rejects.toMatchObject({
      status: 400,
      boxCode: 'invalid_request',
      requestId: 'r9',
    });
  });
});

describe('exchangeCode', () => {
  it('sends the code, redirect_uri and code_verifier', async () => {
    const { server, opts } = await setup([json(200, GOOD)]);
    await exchangeCode(opts, 'CODE', { redirectUri: 'http://127.0.0.1:1/cb', codeVerifier: 'V' });
    expect(Object.fromEntries(new URLSearchParams(server.requests[0]!.body))).toMatchObject({
      grant_type: 'authorization_code',
      code: 'CODE',
      redirect_uri: 'http://127.0.0.1:1/cb',
      code_verifier: 'V',
    });
  });
});

describe('revokeToken', () => {
  it('resolves revoked on 200 and already-invalid on 400 invalid_token', async () => {
    const { server, opts } = await setup([text(200, ''), json(400, { error: 'invalid_token' })]);
    await expect(revokeToken(opts, 'RT')).resolves.toBe('revoked');
    await expect(revokeToken(opts, 'RT')).resolves.toBe('already-invalid');
    expect(server.requests[0]!.url).toBe('/oauth2/revoke');
    expect(new URLSearchParams(server.requests[0]!.body).get('token')).toBe('RT');
  });

  it('reports a 500 as a temporary failure', async () => {
    const { opts } = await setup([json(500, {})]);
    await expect(revokeToken(opts, 'RT')).rejects.toBeInstanceOf(TemporaryError);
  });
});
