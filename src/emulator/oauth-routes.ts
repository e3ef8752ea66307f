/**
 * The OAuth endpoints (box-api.md §1-§3): authorize with a consent page, token (authorization_code and
 * refresh_token grants) and revoke. Error codes and descriptions are Box's, as collected in box-api.md.
 */
import { createHash } from 'node:crypto';
import type { EmulatorClient } from './options.js';
import { oauthError, redirect, json, empty, randomToken, type Reply } from './reply.js';
import type { TokenRecord } from './grants.js';
import type { RequestContext, EmulatorState } from './state.js';
import { matchRedirectUri } from './redirect-match.js';
import { consentPage, errorPage } from './pages.js';
import type { PendingAuthorization } from './types.js';

const DENIED = 'The user denied access to your application';
const BAD_CLIENT = 'The client credentials are invalid';
const BAD_CODE = "Auth code doesn't exist or is invalid for the client";
// Box answers a token request it cannot read (JSON body, wrong host) this way (box-api.md §2).
const BAD_GRANT_TYPE = 'Invalid grant_type parameter or parameter missing';
/** Grant types Box knows but an OAuth 2.0 app may not use (box-api.md §2, [DOC-err2]). */
const OTHER_BOX_GRANTS = new Set([
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

function withParams(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

export function handleAuthorize(st: EmulatorState, ctx: RequestContext): Reply {
  const q = ctx.url.searchParams;
  const client = st.options.clients.find((c) => c.clientId === q.get('client_id'));
  if (!client) return errorPage(400, 'invalid_client', 'Unable to retrieve service: the client_id is unknown.');
  const param = q.get('redirect_uri') ?? undefined;
  let redirectUri: string;
  if (param !== undefined) {
    if (!matchRedirectUri(client.redirectUris, param, st.options.loopbackAnyPort)) {
      return errorPage(
        400,
        'redirect_uri_mismatch',
        'The redirect URI does not match any redirect URI configured for this application.',
      );
    }
    redirectUri = param;
  } else if (client.redirectUris.length === 1) {
    redirectUri = client.redirectUris[0]!;
  } else {
    // Box shows this after the user grants; the emulator shows it at once (same outcome: no redirect).
    return errorPage(
      400,
      'redirect_uri_missing',
      'This application has several redirect URIs: the request must name one.',
    );
  }
  const state = q.get('state') ?? undefined;
  // Errors after the redirect URI is known are redirected (RFC 6749 §4.1.2.1; exact Box values UNCONFIRMED).
  const fail = (error: string, description: string) =>
    redirect(withParams(redirectUri, { error, error_description: description, state }));
  if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'The response type must be code');
  const scope = q.get('scope') ?? (client.scopes ?? []).join(' ');
  const allowed = new Set(client.scopes ?? []);
  if (q.has('scope') && scope.split(' ').some((s) => s !== '' && !allowed.has(s)))
    return fail('invalid_scope', 'The requested scope is invalid');
  const method = q.get('code_challenge_method') ?? 'S256';
  if (method !== 'S256' && method !== 'plain') return fail('invalid_request', 'Unsupported code_challenge_method');
  const pending: PendingAuthorization = {
    id: randomToken(20),
    clientId: client.clientId,
    redirectUriParam: param,
    redirectUri,
    state,
    scope,
    codeChallenge: q.get('code_challenge') ?? undefined,
    codeChallengeMethod: method,
  };
  st.pending.set(pending.id, pending);
  if (st.options.autoApprove) return redirect(decide(st, pending.id, 'grant')!);
  const user = st.grants.userFor(st.options.approveAs);
  return consentPage(pending.id, user, client.clientId);
}

/** The consent form posts here; answers with the redirect Box would send. */
export function handleDecision(st: EmulatorState, ctx: RequestContext): Reply {
  const form = ctx.form ?? new URLSearchParams();
  const id = form.get('request_id') ?? '';
  const decision = form.get('decision') === 'grant' ? 'grant' : 'deny';
  const location = decide(st, id, decision, form.get('login') ?? undefined);
  if (!location) return errorPage(400, 'invalid_request', 'This sign-in request is unknown or was already answered.');
  return redirect(location);
}

/** Answers a pending authorization; returns the redirect URL, or undefined if it is unknown. */
export function decide(st: EmulatorState, id: string, decision: 'grant' | 'deny', login?: string): string | undefined {
  const p = st.pending.get(id);
  if (!p) return undefined;
  st.pending.delete(id);
  if (decision === 'deny') {
    return withParams(p.redirectUri, { error: 'access_denied', error_description: DENIED, state: p.state });
  }
  const user = st.grants.userFor(login ?? st.options.approveAs);
  const code = st.grants.issueCode({
    clientId: p.clientId,
    login: user.login,
    scope: p.scope,
    redirectUri: p.redirectUriParam,
    codeChallenge: p.codeChallenge,
    codeChallengeMethod: p.codeChallengeMethod,
  });
  return withParams(p.redirectUri, { code, state: p.state });
}

function checkClient(st: EmulatorState, ctx: RequestContext): EmulatorClient | Reply {
  const form = ctx.form ?? new URLSearchParams();
  // Box reads credentials from the body only; a Basic header alone is not enough (box-api.md §2).
  const client = st.options.clients.find((c) => c.clientId === form.get('client_id'));
  if (!client || client.clientSecret !== form.get('client_secret')) {
    return oauthError(st.options.invalidClientStatus, 'invalid_client', BAD_CLIENT);
  }
  return client;
}

export function tokenResponse(rec: TokenRecord, expiresIn: number): Reply {
  return json(
    200,
    {
      access_token: rec.accessToken,
      expires_in: expiresIn,
      restricted_to: [],
      refresh_token: rec.refreshToken,
      token_type: 'bearer',
    },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
  );
}

export function handleToken(st: EmulatorState, ctx: RequestContext): Reply {
  const form = ctx.form ?? new URLSearchParams();
  const grantType = form.get('grant_type');
  if (!grantType) return oauthError(400, 'invalid_request', BAD_GRANT_TYPE);
  const client = checkClient(st, ctx);
  if ('status' in client) return client;
  if (grantType === 'authorization_code') return exchangeCode(st, client, form);
  if (grantType === 'refresh_token') return refresh(st, client, form, ctx);
  if (OTHER_BOX_GRANTS.has(grantType))
    return oauthError(400, 'invalid_request', 'The grant type is unauthorized for this client_id');
  return st.options.unknownGrantError === 'invalid_request'
    ? oauthError(400, 'invalid_request', BAD_GRANT_TYPE)
    : oauthError(
        400,
        'unsupported_grant_type',
        'The authorization grant type is not supported by the authorization server',
      );
}

function verifierMatches(challenge: string, method: string, verifier: string): boolean {
  if (method === 'plain') return challenge === verifier;
  return createHash('sha256').update(verifier).digest('base64url') === challenge;
}

function exchangeCode(st: EmulatorState, client: EmulatorClient, form: URLSearchParams): Reply {
  const raw = form.get('code');
  // Missing-parameter texts are UNCONFIRMED (box-api.md §2): invalid_request, in Box's grant_type wording.
  if (!raw) return oauthError(400, 'invalid_request', 'Invalid code parameter or parameter missing');
  const code = st.grants.findCode(raw);
  if (!code || code.clientId !== client.clientId) return oauthError(400, 'invalid_grant', BAD_CODE);
  if (st.clock.now() >= code.expiresAt) {
    st.grants.consumeCode(raw);
    return oauthError(400, 'invalid_grant', 'The authorization code has expired');
  }
  const sentUri = form.get('redirect_uri') ?? undefined;
  if (code.redirectUri !== undefined) {
    if (sentUri !== undefined && sentUri !== code.redirectUri) return oauthError(400, 'invalid_grant', BAD_CODE);
    if (sentUri === undefined && st.options.requireRedirectUriAtToken)
      return oauthError(400, 'invalid_grant', BAD_CODE);
  }
  if (code.codeChallenge !== undefined) {
    const verifier = form.get('code_verifier');
    if (!verifier) return oauthError(400, 'invalid_grant', 'Missing code_verifier');
    if (!verifierMatches(code.codeChallenge, code.codeChallengeMethod, verifier)) {
      return oauthError(400, 'invalid_grant', 'The code verifier does not match the code challenge');
    }
  }
  st.grants.consumeCode(raw);
  const rec = st.grants.createGrant(code.login, client.clientId, code.scope);
  return tokenResponse(rec, rec.expiresIn);
}

function refresh(st: EmulatorState, client: EmulatorClient, form: URLSearchParams, ctx: RequestContext): Reply {
  const token = form.get('refresh_token');
  if (!token) return oauthError(400, 'invalid_request', 'Invalid refresh_token parameter or parameter missing');
  const { result, event } = st.grants.refresh(token, client.clientId, ctx.receivedAt);
  ctx.chainEvent = event;
  if (!result.ok) {
    return oauthError(400, 'invalid_grant', result.expired ? 'Refresh token has expired' : 'Invalid refresh token');
  }
  return tokenResponse(result.record, result.expiresIn);
}

export function handleRevoke(st: EmulatorState, ctx: RequestContext): Reply {
  const client = checkClient(st, ctx);
  if ('status' in client) return client;
  const token = ctx.form?.get('token');
  if (!token) return oauthError(400, 'invalid_request', 'Invalid token parameter or parameter missing');
  // Box answers an already-invalid token with 400 {"error":"invalid_token"}, not RFC 7009's 200 (box-api.md §3).
  if (!st.grants.revoke(token, client.clientId)) return json(400, { error: 'invalid_token' });
  return empty(200);
}
