import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createPkce, derivePkce, challengeFor } from '../../../src/core/oauth/pkce.js';
import { buildAuthorizeUrl, redirectUriWithPort } from '../../../src/core/oauth/authorize-url.js';

describe('PKCE S256', () => {
  it('makes a 43-128 char unreserved verifier and its S256 challenge', () => {
    const p = createPkce();
    expect(p.verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(p.challenge).toBe(createHash('sha256').update(p.verifier).digest('base64url'));
    expect(p.method).toBe('S256');
    expect(createPkce().verifier).not.toBe(p.verifier);
  });

  it('derives the same verifier from key + jti across processes, different per jti and key', () => {
    const key = new Uint8Array(randomBytes(32));
    const a = derivePkce(key, 'jti-1');
    expect(derivePkce(key, 'jti-1')).toEqual(a);
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(derivePkce(key, 'jti-2').verifier).not.toBe(a.verifier);
    expect(derivePkce(new Uint8Array(randomBytes(32)), 'jti-1').verifier).not.toBe(a.verifier);
    expect(a.challenge).toBe(challengeFor(a.verifier));
  });
});

describe('authorize URL', () => {
  it('carries response_type, client_id, redirect_uri with the bound port, state, scope and PKCE', () => {
    const redirect = redirectUriWithPort(new URL('http://127.0.0.1:53117/callback'), 40123);
    expect(redirect).toBe('http://127.0.0.1:40123/callback');
    const url = new URL(
      buildAuthorizeUrl({
        authorizeUrl: new URL('https://account.box.com/api/oauth2/authorize'),
        clientId: 'cid',
        redirectUri: redirect,
        state: 's.t.x',
        scope: ' root_readonly  manage_webhook ',
        pkce: { challenge: 'ch', method: 'S256' },
      }),
    );
    expect(url.origin + url.pathname).toBe('https://account.box.com/api/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'cid',
      redirect_uri: redirect,
      state: 's.t.x',
      scope: 'root_readonly manage_webhook',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });

  it('omits scope when none is given and keeps an authorize URL path prefix', () => {
    const url = new URL(
      buildAuthorizeUrl({
        authorizeUrl: new URL('http://127.0.0.1:9/box/api/oauth2/authorize'),
        clientId: 'c',
        redirectUri: 'http://[::1]:5/cb',
        state: 's',
        pkce: { challenge: 'x', method: 'S256' },
      }),
    );
    expect(url.searchParams.has('scope')).toBe(false);
    expect(url.pathname).toBe('/box/api/oauth2/authorize');
    expect(url.searchParams.get('redirect_uri')).toBe('http://[::1]:5/cb');
  });
});
