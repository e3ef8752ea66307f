/**
 * Box's token and revoke endpoints (box-api.md §2, §3): form-encoded, client credentials in the body.
 * Split into build-request and parse-response; parsers narrow unknown JSON into a TokenPair or a typed error.
 *
 * Error mapping (thrown as BoxQcError subclasses from ../../errors.js):
 *  - 400 invalid_grant           -> InvalidGrantError (below; the caller decides: reconnect, re-read, replay)
 *  - 400/401 invalid_client      -> ConfigError code E_INVALID_CLIENT (exit 2: the app's credentials are wrong)
 *  - 429, 5xx, network, timeout  -> TemporaryError (exit 75). NEVER retried here: a refresh POST that may have
 *                                   reached Box must not be blindly repeated (reliability.md F9).
 *  - anything else / HTML / garbage -> BoxApiError with status and Box request id.
 */
import { apiUrl, type ClientCredentials } from '../../config.js';
import { BoxApiError, BoxQcError, ConfigError, ExitCode, TemporaryError } from '../../errors.js';
import { parseJson, sendRequest, tryParseJson, requestIdOf, type HttpContext, type HttpResponse } from '../http.js';
import type { TokenPair } from '../store/types.js';

export type InvalidGrantKind = 'expired' | 'invalid';

/** Box said `invalid_grant`. `kind` is 'expired' for "Refresh token has expired" / expired auth code. */
export class InvalidGrantError extends BoxQcError {
  readonly kind: InvalidGrantKind;
  constructor(kind: InvalidGrantKind, message: string) {
    super('E_INVALID_GRANT', message, ExitCode.RECONNECT);
    this.kind = kind;
  }
}

export interface TokenEndpointOptions {
  http: HttpContext;
  apiBaseUrl: URL;
  credentials: ClientCredentials;
}

type Grant = 'authorization_code' | 'refresh_token' | 'revoke';

function post(opts: TokenEndpointOptions, path: string, grant: Grant, fields: Record<string, string>): Promise<HttpResponse> {
  return sendRequest(opts.http, {
    method: 'POST',
    url: apiUrl(opts.apiBaseUrl, path),
    // Body credentials: Box appears not to accept HTTP Basic client auth (box-api.md §2).
    form: { ...fields, client_id: opts.credentials.clientId, client_secret: opts.credentials.clientSecret },
    logNote: grant === 'revoke' ? 'revoke' : `grant ${grant}`,
  });
}

export async function exchangeCode(
  opts: TokenEndpointOptions,
  code: string,
  extra: { redirectUri?: string; codeVerifier?: string },
): Promise<TokenPair> {
  const fields: Record<string, string> = { grant_type: 'authorization_code', code };
  if (extra.redirectUri !== undefined) fields.redirect_uri = extra.redirectUri;
  if (extra.codeVerifier !== undefined) fields.code_verifier = extra.codeVerifier;
  return parseTokenResponse(await post(opts, '/oauth2/token', 'authorization_code', fields));
}

/** One attempt, never retried. */
export async function refreshTokens(opts: TokenEndpointOptions, refreshToken: string): Promise<TokenPair> {
  const res = await post(opts, '/oauth2/token', 'refresh_token', { grant_type: 'refresh_token', refresh_token: refreshToken });
  return parseTokenResponse(res);
}

/** Revokes the whole grant. 400 invalid_token means "already invalid": resolves 'already-invalid'. */
export async function revokeToken(opts: TokenEndpointOptions, token: string): Promise<'revoked' | 'already-invalid'> {
  const res = await post(opts, '/oauth2/revoke', 'revoke', { token });
  if (res.status >= 200 && res.status < 300) return 'revoked';
  const body = tryParseJson(res);
  if (res.status === 400 && body?.error === 'invalid_token') return 'already-invalid';
  throw tokenEndpointError(res, body);
}

/**
 * 200 -> a validated TokenPair, as the legacy Node SDK's isValidTokenResponse checks: string access_token,
 * numeric expires_in, non-empty refresh_token (box-api.md §2; reliability.md F11: never keep an old RT
 * because the answer lacked a new one).
 */
export function parseTokenResponse(res: HttpResponse): TokenPair {
  if (res.status !== 200) throw tokenEndpointError(res, tryParseJson(res));
  const body = parseJson(res);
  const { access_token: accessToken, refresh_token: refreshToken, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || accessToken === '' || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw malformed(res, body, 'without a usable access_token / expires_in');
  }
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    throw malformed(res, body, 'without a new refresh_token');
  }
  return { accessToken, refreshToken, expiresIn };
}

function malformed(res: HttpResponse, body: unknown, what: string): BoxApiError {
  return new BoxApiError(`${res.label}: Box answered 200 ${what}`, { status: res.status, requestId: requestIdOf(res, body) }, {
    code: 'E_BOX_BAD_RESPONSE',
  });
}

/** Maps a non-2xx token/revoke answer to the error the module comment documents. */
export function tokenEndpointError(res: HttpResponse, body: Record<string, unknown> | undefined): BoxQcError {
  const error = typeof body?.error === 'string' ? body.error : undefined;
  const description = typeof body?.error_description === 'string' ? body.error_description : '';
  const requestId = requestIdOf(res, body);
  if (error === 'invalid_grant') {
    // Box's only signal for "idle 60 days" vs "used/revoked" is the description (box-api.md §2 table).
    const kind: InvalidGrantKind = /expired/i.test(description) ? 'expired' : 'invalid';
    return new InvalidGrantError(kind, kind === 'expired' ? 'Box says the token has expired (invalid_grant)' : 'Box rejected the token (invalid_grant)');
  }
  if (error === 'invalid_client') {
    return new ConfigError('Box rejected the app credentials (invalid_client)', {
      code: 'E_INVALID_CLIENT',
      hint: 'check BOX_CLIENT_ID and BOX_CLIENT_SECRET against the app in the Box developer console',
    });
  }
  if (res.status === 429 || res.status >= 500) {
    return new TemporaryError(`${res.label}: Box answered ${res.status}${error ? ` ${error}` : ''}`, {
      code: 'E_BOX_TEMPORARY',
      details: { status: res.status, requestId },
    });
  }
  if (body === undefined) return new BoxApiError(`${res.label}: Box answered ${res.status} with a body that is not JSON`, { status: res.status, requestId }, { code: 'E_BOX_BAD_RESPONSE' });
  return new BoxApiError(`${res.label}: Box answered ${res.status}${error ? ` ${error}` : ''}`, { status: res.status, requestId, boxCode: error });
}
