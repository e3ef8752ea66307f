/**
 * The emulator against box-api.md §1-§3 (authorize, codes, token, rotation, revoke), row by row.
 * The 2.0 API rows are in conformance-api.test.ts, faults in faults.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import {
  CLIENT,
  REDIRECT,
  authorizeUrl,
  exchange,
  get,
  getCode,
  postForm,
  refresh,
  s256,
  type TokenBody,
} from './helpers.js';

type Json = Record<string, unknown>;

let emu: Emulator;
async function start(opts: EmulatorOptions = {}): Promise<Emulator> {
  emu = await startEmulator({ autoApprove: true, ...opts });
  return emu;
}
afterEach(async () => {
  await emu?.close();
});

async function connect(opts?: Record<string, string>): Promise<TokenBody> {
  const res = await exchange(emu, await getCode(emu), opts);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenBody;
}

async function me(token: string) {
  return get(`${emu.url}/2.0/users/me`, token);
}

describe('authorize (box-api.md §1)', () => {
  it('shows an HTML consent page naming the user, with Grant access and Deny buttons posting back', async () => {
    await start({ autoApprove: false });
    const res = await get(authorizeUrl(emu));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('box-request-id')).toMatch(/^[a-z0-9]{16}$/);
    const page = await res.text();
    expect(page).toContain('Alice Example');
    expect(page).toMatch(/<form method="post" action="\/api\/oauth2\/authorize">/);
    expect(page).toContain('>Grant access</button>');
    expect(page).toContain('>Deny</button>');
  });

  it('redirects to redirect_uri with code and state when the consent form grants', async () => {
    await start({ autoApprove: false });
    const page = await (await get(authorizeUrl(emu, { state: 'abc' }))).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)![1]!;
    const res = await postForm(emu, '/api/oauth2/authorize', { request_id: requestId, decision: 'grant' });
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get('location')!);
    expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('abc');
    expect(loc.searchParams.get('code')).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('redirects with error=access_denied, a description and the state when the user denies', async () => {
    await start({ autoApprove: false });
    const page = await (await get(authorizeUrl(emu, { state: 'abc' }))).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)![1]!;
    const res = await postForm(emu, '/api/oauth2/authorize', { request_id: requestId, decision: 'deny' });
    const loc = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(loc.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'The user denied access to your application',
      state: 'abc',
    });
    // The same request cannot be answered twice.
    const again = await postForm(emu, '/api/oauth2/authorize', { request_id: requestId, decision: 'grant' });
    expect(again.status).toBe(400);
  });

  it('lets tests answer the consent through approve() and deny()', async () => {
    await start({ autoApprove: false });
    await get(authorizeUrl(emu));
    expect(emu.pending()).toHaveLength(1);
    expect(new URL(emu.approve(undefined, 'bob@example.com')!).searchParams.get('code')).toBeTruthy();
    await get(authorizeUrl(emu));
    expect(new URL(emu.deny()!).searchParams.get('error')).toBe('access_denied');
    expect(emu.approve()).toBeUndefined();
  });

  it.each([
    ['an unknown client', { client_id: 'nope' }, 'invalid_client'],
    ['a redirect_uri on another path', { redirect_uri: 'http://127.0.0.1:53117/other' }, 'redirect_uri_mismatch'],
    ['a non-loopback redirect_uri', { redirect_uri: 'https://evil.example/callback' }, 'redirect_uri_mismatch'],
    ['no redirect_uri while several are registered', { redirect_uri: undefined }, 'redirect_uri_missing'],
  ])('answers %s with an HTML error page and no redirect', async (_t, params, code) => {
    await start();
    const res = await get(authorizeUrl(emu, params));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain(code);
  });

  it('accepts any port on a registered loopback redirect URI, and only the exact port when the switch is off', async () => {
    await start();
    expect((await get(authorizeUrl(emu, { redirect_uri: 'http://127.0.0.1:4444/callback' }))).status).toBe(302);
    expect((await get(authorizeUrl(emu, { redirect_uri: 'http://localhost:4444/callback' }))).status).toBe(302);
    emu.setOptions({ loopbackAnyPort: false });
    expect((await get(authorizeUrl(emu, { redirect_uri: 'http://127.0.0.1:4444/callback' }))).status).toBe(400);
    expect((await get(authorizeUrl(emu, { redirect_uri: REDIRECT }))).status).toBe(302);
  });

  it('uses the only registered redirect URI when none is sent', async () => {
    await start({
      clients: [{ ...{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }, redirectUris: [REDIRECT] }],
    });
    const res = await get(authorizeUrl(emu, { redirect_uri: undefined }));
    expect(res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:53117\/callback\?code=/);
  });

  it('redirects unsupported_response_type and invalid_scope errors with the state, and tolerates unknown params', async () => {
    await start();
    const bad = new URL((await get(authorizeUrl(emu, { response_type: 'token' }))).headers.get('location')!);
    expect(bad.searchParams.get('error')).toBe('unsupported_response_type');
    expect(bad.searchParams.get('state')).toBe('st-1');
    const scope = new URL(
      (await get(authorizeUrl(emu, { scope: 'root_readwrite nuclear_codes' }))).headers.get('location')!,
    );
    expect(scope.searchParams.get('error')).toBe('invalid_scope');
    const ok = await get(authorizeUrl(emu, { scope: 'root_readwrite', access_type: 'offline' }));
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });
});

describe('authorization codes (box-api.md §1 "Authorization code")', () => {
  it('are single use', async () => {
    await start();
    const code = await getCode(emu);
    expect((await exchange(emu, code)).status).toBe(200);
    const again = await exchange(emu, code);
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({
      error: 'invalid_grant',
      error_description: "Auth code doesn't exist or is invalid for the client",
    });
  });

  it('expire after 30 seconds on the emulator clock', async () => {
    await start();
    const fresh = await getCode(emu);
    emu.clock.advance(29_000);
    expect((await exchange(emu, fresh)).status).toBe(200);
    const stale = await getCode(emu);
    emu.clock.advance(30_000);
    const res = await exchange(emu, stale);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'The authorization code has expired',
    });
  });

  it('are bound to the client and to the redirect_uri of the authorize request', async () => {
    const other = { clientId: 'other', clientSecret: 'other-secret', redirectUris: [REDIRECT] };
    await start({
      clients: [
        {
          clientId: CLIENT.client_id,
          clientSecret: CLIENT.client_secret,
          redirectUris: [REDIRECT, 'http://127.0.0.1/callback'],
        },
        other,
      ],
    });
    const code = await getCode(emu);
    const wrongClient = await postForm(emu, '/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      client_id: 'other',
      client_secret: 'other-secret',
    });
    expect(((await wrongClient.json()) as Json).error).toBe('invalid_grant');
    const wrongUri = await exchange(emu, code, { redirect_uri: 'http://127.0.0.1:9/callback' });
    expect(((await wrongUri.json()) as Json).error).toBe('invalid_grant');
    expect((await exchange(emu, code, { redirect_uri: REDIRECT })).status).toBe(200);
  });

  it('require a matching PKCE verifier when a challenge was sent (method defaults to S256)', async () => {
    await start();
    const verifier = 'v'.repeat(64);
    const code = await getCode(emu, { code_challenge: s256(verifier) });
    const missing = await exchange(emu, code);
    expect(((await missing.json()) as Json).error).toBe('invalid_grant');
    const wrong = await exchange(emu, code, { code_verifier: 'w'.repeat(64) });
    expect(((await wrong.json()) as Json).error).toBe('invalid_grant');
    expect((await exchange(emu, code, { code_verifier: verifier })).status).toBe(200);
    const plain = await getCode(emu, { code_challenge: verifier, code_challenge_method: 'plain' });
    expect((await exchange(emu, plain, { code_verifier: verifier })).status).toBe(200);
    const none = await getCode(emu);
    expect((await exchange(emu, none, { code_verifier: 'ignored-without-a-challenge' })).status).toBe(200);
  });
});

describe('token endpoint (box-api.md §2)', () => {
  it("answers 200 with Box's token shape and Cache-Control: no-store", async () => {
    await start();
    const res = await exchange(emu, await getCode(emu));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('box-request-id')).toBeTruthy();
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'restricted_to',
      'token_type',
    ]);
    expect(body).toMatchObject({ expires_in: 3600, restricted_to: [], token_type: 'bearer' });
  });

  it('draws expires_in from [ttl, max] when the jitter option is set', async () => {
    await start({ accessTokenTtlSeconds: 3600, accessTokenTtlMaxSeconds: 4300 });
    for (let i = 0; i < 5; i++) {
      const t = await connect();
      expect(t.expires_in).toBeGreaterThanOrEqual(3600);
      expect(t.expires_in).toBeLessThanOrEqual(4300);
    }
  });

  it.each([
    [
      'a JSON body',
      () =>
        fetch(`${emu.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'refresh_token', ...CLIENT }),
        }),
      400,
      'invalid_request',
      'Invalid grant_type parameter or parameter missing',
    ],
    [
      'no grant_type',
      () => postForm(emu, '/oauth2/token', { ...CLIENT }),
      400,
      'invalid_request',
      'Invalid grant_type parameter or parameter missing',
    ],
    [
      'client credentials only in a Basic header',
      () =>
        postForm(
          emu,
          '/oauth2/token',
          { grant_type: 'refresh_token', refresh_token: 'x' },
          { authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}` },
        ),
      400,
      'invalid_client',
      'The client credentials are invalid',
    ],
    [
      'a wrong client secret',
      () =>
        postForm(emu, '/oauth2/token', {
          grant_type: 'refresh_token',
          refresh_token: 'x',
          client_id: CLIENT.client_id,
          client_secret: 'wrong',
        }),
      400,
      'invalid_client',
      'The client credentials are invalid',
    ],
    [
      'an unknown grant type',
      () => postForm(emu, '/oauth2/token', { grant_type: 'password', ...CLIENT }),
      400,
      'unsupported_grant_type',
      undefined,
    ],
    [
      'a grant type an OAuth app may not use',
      () => postForm(emu, '/oauth2/token', { grant_type: 'client_credentials', ...CLIENT }),
      400,
      'invalid_request',
      'The grant type is unauthorized for this client_id',
    ],
    [
      'a missing code',
      () => postForm(emu, '/oauth2/token', { grant_type: 'authorization_code', ...CLIENT }),
      400,
      'invalid_request',
      undefined,
    ],
    ['an unknown refresh token', () => refresh(emu, 'not-a-token'), 400, 'invalid_grant', 'Invalid refresh token'],
  ])('rejects %s', async (_t, send, status, error, description) => {
    await start();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { error: string; error_description?: string };
    expect(body.error).toBe(error);
    if (description) expect(body.error_description).toBe(description);
  });

  it('offers invalid_request for unknown grant types and 401 for invalid_client as switches', async () => {
    await start({ unknownGrantError: 'invalid_request', invalidClientStatus: 401 });
    expect(
      ((await (await postForm(emu, '/oauth2/token', { grant_type: 'password', ...CLIENT })).json()) as Json).error,
    ).toBe('invalid_request');
    expect(
      (await postForm(emu, '/oauth2/token', { grant_type: 'refresh_token', client_id: 'x', client_secret: 'y' }))
        .status,
    ).toBe(401);
  });

  it('expires access tokens after their TTL and refresh tokens 60 days after issue', async () => {
    await start();
    const t = await connect();
    emu.clock.advance(3599_000);
    expect((await me(t.access_token)).status).toBe(200);
    emu.clock.advance(1000);
    expect((await me(t.access_token)).status).toBe(401);
    emu.clock.advance(60 * 86_400_000 - 3600_000);
    expect(await (await refresh(emu, t.refresh_token)).json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Refresh token has expired',
    });
  });

  it('lets a refresh token that is 59 days old rotate', async () => {
    await start();
    const t = await connect();
    emu.clock.advance(59 * 86_400_000);
    expect((await refresh(emu, t.refresh_token)).status).toBe(200);
  });
});

describe('rotation modes (box-api.md §2 "Grace / replay behaviour")', () => {
  it('strict: a used refresh token is dead; the old access token lives until it expires', async () => {
    await start({ rotation: 'strict' });
    const t1 = await connect();
    const t2 = (await (await refresh(emu, t1.refresh_token)).json()) as TokenBody;
    expect(t2.refresh_token).not.toBe(t1.refresh_token);
    expect(await (await refresh(emu, t1.refresh_token)).json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid refresh token',
    });
    expect((await me(t1.access_token)).status).toBe(200);
    expect((await me(t2.access_token)).status).toBe(200);
    const t3 = (await (await refresh(emu, t2.refresh_token)).json()) as TokenBody;
    expect(emu.latestTokens('alice@example.com')).toMatchObject({ refresh_token: t3.refresh_token, generation: 3 });
    const check = emu.chainCheck('alice@example.com');
    expect(check).toMatchObject({ ok: false, refreshes: 3, committed: 2 });
    expect(check.stale[0]).toMatchObject({ presentedGeneration: 1, latestGeneration: 2, outcome: 'rejected-used' });
  });

  it('box-grace: replaying the just-used token returns the same successor pair until that pair is used', async () => {
    await start({ rotation: 'box-grace', freezeClock: true });
    const t1 = await connect();
    const t2 = (await (await refresh(emu, t1.refresh_token)).json()) as TokenBody;
    emu.clock.advance(10_000);
    const replay = (await (await refresh(emu, t1.refresh_token)).json()) as TokenBody;
    expect(replay.access_token).toBe(t2.access_token);
    expect(replay.refresh_token).toBe(t2.refresh_token);
    expect(replay.expires_in).toBe(3590);
    expect((await me(t1.access_token)).status).toBe(200);
    expect((await me(t2.access_token)).status).toBe(200);
    expect((await me(t1.access_token)).status).toBe(401);
    expect(((await (await refresh(emu, t1.refresh_token)).json()) as Json).error).toBe('invalid_grant');
    expect(emu.chains('alice@example.com')['alice@example.com']!.map((e) => e.outcome)).toEqual([
      'rotated',
      'replayed',
      'rejected-used',
    ]);
  });

  it('box-grace: refreshing with the successor also ends the grace of its predecessor', async () => {
    await start({ rotation: 'box-grace' });
    const t1 = await connect();
    const t2 = (await (await refresh(emu, t1.refresh_token)).json()) as TokenBody;
    expect((await refresh(emu, t2.refresh_token)).status).toBe(200);
    expect((await refresh(emu, t1.refresh_token)).status).toBe(400);
  });

  it('family: replaying a dead refresh token revokes the whole grant', async () => {
    await start({ rotation: 'family' });
    const t1 = await connect();
    const t2 = (await (await refresh(emu, t1.refresh_token)).json()) as TokenBody;
    expect(((await (await refresh(emu, t1.refresh_token)).json()) as Json).error).toBe('invalid_grant');
    expect(emu.isLive(t2.refresh_token)).toBe(false);
    expect((await me(t2.access_token)).status).toBe(401);
    expect(((await (await refresh(emu, t2.refresh_token)).json()) as Json).error).toBe('invalid_grant');
  });
});

describe('revoke (box-api.md §3)', () => {
  it.each(['access_token', 'refresh_token'] as const)(
    'revoking the %s kills the whole grant: 200 with an empty body',
    async (which) => {
      await start();
      const t = await connect();
      const res = await postForm(emu, '/oauth2/revoke', { token: t[which], ...CLIENT });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      expect(emu.isLive(t.access_token)).toBe(false);
      expect(emu.isLive(t.refresh_token)).toBe(false);
      expect((await me(t.access_token)).status).toBe(401);
      expect((await refresh(emu, t.refresh_token)).status).toBe(400);
    },
  );

  it('answers 400 {"error":"invalid_token"} for a token that is already invalid', async () => {
    await start();
    const t = await connect();
    await postForm(emu, '/oauth2/revoke', { token: t.refresh_token, ...CLIENT });
    const res = await postForm(emu, '/oauth2/revoke', { token: t.refresh_token, ...CLIENT });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"error":"invalid_token"}');
  });

  it('answers invalid_client for bad client credentials', async () => {
    await start();
    const t = await connect();
    const res = await postForm(emu, '/oauth2/revoke', {
      token: t.refresh_token,
      client_id: CLIENT.client_id,
      client_secret: 'nope',
    });
    expect(((await res.json()) as Json).error).toBe('invalid_client');
    expect(emu.isLive(t.refresh_token)).toBe(true);
  });
});

describe('introspection and control', () => {
  it('mints a connected pair, counts requests per route and grant, and never logs tokens', async () => {
    await start();
    const minted = emu.mint({ login: 'Carol@Example.com' });
    expect(minted.user.login).toBe('carol@example.com');
    expect(emu.isLive(minted.access_token)).toBe(true);
    const t = await connect();
    await refresh(emu, t.refresh_token);
    await me(minted.access_token);
    await get(`${emu.url}/2.0/nope`);
    const stats = emu.stats();
    expect(stats.total).toBe(5);
    expect(stats.byGrantType).toEqual({ authorization_code: 1, refresh_token: 1 });
    expect(stats.byRoute['POST /oauth2/token']).toBe(2);
    expect(stats.byRoute['GET /2.0/nope']).toBe(1);
    const log = JSON.stringify(emu.requests);
    for (const secret of [t.access_token, t.refresh_token, minted.access_token]) expect(log).not.toContain(secret);
  });

  it('puts BOX-REQUEST-ID on every kind of answer', async () => {
    await start();
    const t = await connect();
    emu.setOptions({ autoApprove: false });
    emu.faults.add({ route: '/2.0/folders/0/items', action: 'status', status: 429, times: 1 });
    const answers = await Promise.all([
      get(authorizeUrl(emu)),
      get(authorizeUrl(emu, { client_id: 'nope' })),
      refresh(emu, 'nope'),
      postForm(emu, '/oauth2/revoke', { token: 'nope', ...CLIENT }),
      get(`${emu.url}/2.0/users/me`),
      get(`${emu.url}/2.0/users/me`, t.access_token),
      get(`${emu.url}/2.0/folders/0/items`, t.access_token),
      get(`${emu.url}/2.0/folders/42/items`, t.access_token),
      get(`${emu.url}/nope`),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 400, 400, 400, 401, 404, 429, 500]);
    for (const r of answers) expect(r.headers.get('box-request-id')).toMatch(/^[a-z0-9]{16}$/);
  });

  it('HTML-escapes the user name on the consent page', async () => {
    await start({
      autoApprove: false,
      users: [{ id: '1', login: 'x@example.com', name: '<script>alert(1)</script>' }],
    });
    const page = await (await get(authorizeUrl(emu))).text();
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('&#60;script&#62;alert(1)');
  });

  it('answers unknown routes with 500 emulator_unimplemented', async () => {
    await start();
    const res = await fetch(`${emu.url}/2.0/files/1`, { method: 'DELETE' });
    expect(res.status).toBe(500);
    expect(res.headers.get('box-request-id')).toBeTruthy();
    expect(((await res.json()) as Json).code).toBe('emulator_unimplemented');
  });

  it('can be driven over the /__emulator control API', async () => {
    await start();
    const call = async (method: string, path: string, body?: unknown) =>
      (
        await fetch(`${emu.url}/__emulator/${path}`, {
          method,
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      ).json();
    const minted = (await call('POST', 'mint', { login: 'dave@example.com' })) as { access_token: string };
    expect(await call('POST', 'live', { token: minted.access_token })).toEqual({ live: true });
    const before = emu.clock.now();
    const { now } = (await call('POST', 'clock/advance', { ms: 7200_000 })) as { now: number };
    expect(now - before).toBeGreaterThanOrEqual(7200_000);
    expect(await call('POST', 'live', { token: minted.access_token })).toEqual({ live: false });
    await call('POST', 'faults', { route: '/2\\.0/.*', regex: true, action: 'status', status: 503, times: 1 });
    expect((await get(`${emu.url}/2.0/users/me`)).status).toBe(503);
    await call('POST', 'options', { rotation: 'family' });
    expect(emu.options().rotation).toBe('family');
    expect(((await call('GET', 'stats')) as { total: number }).total).toBe(1);
    expect(((await call('GET', 'memory')) as { rss: number }).rss).toBeGreaterThan(0);
    await call('DELETE', 'faults');
    expect(emu.faults.list()).toEqual([]);
  });
});
