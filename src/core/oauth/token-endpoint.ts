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
 *
 * A 200 to a refresh is different (issue 15 item 2): Box has already rotated, so whatever carries a new
 * refresh token is salvaged (parseRefreshAnswer: malformed expires_in / access_token are defaulted, with a
 * warning), and a 200 that carries none, or is not JSON at all, is RotationUnknownError (exit 75): the caller
 * keeps its in-flight marker and the next run's replay learns the truth. A token holding anything but RFC 6749
 * VSCHAR (U+0000, lone surrogates, controls) counts as missing: it could be neither stored nor presented.
 */
import { apiUrl, type ClientCredentials } from '../../config.js';
import { BoxApiError, BoxQcError, ConfigError, ExitCode, TemporaryError } from '../../errors.js';
import { sendRequest, tryParseJson, requestIdOf, type HttpContext, type HttpResponse } from '../http/request.js';
import { MAX_STORED_TOKEN_BYTES, type TokenPair } from '../store/types.js';

export type InvalidGrantKind = 'expired' | 'invalid';

/** Box said `invalid_grant`. `kind` is 'expired' for "Refresh token has expired" / expired auth code. */
export class InvalidGrantError extends BoxQcError {
  readonly kind: InvalidGrantKind;
  constructor(kind: InvalidGrantKind, message: string, requestId?: string) {
    super('E_INVALID_GRANT', message, ExitCode.RECONNECT, requestId !== undefined ? { details: { requestId } } : {});
    this.kind = kind;
  }
}

/**
 * A 200 to a refresh without a usable new refresh token (none, empty, not a string, or a body that is not
 * JSON): Box may have rotated and we did not get the successor. Exit 75, marker kept (never "nothing was lost").
 */
export class RotationUnknownError extends TemporaryError {
  constructor(message: string, requestId: string | undefined) {
    super(message, {
      code: 'E_ROTATION_UNKNOWN',
      hint: 'the connection may be lost: run the same command again (cron will); it retries that refresh once and then says for sure',
      details: { status: 200, requestId },
    });
  }
}

/** What a token 200 gave us, plus what had to be defaulted (one line each, no token in them). */
export interface ReceivedPair extends TokenPair {
  warnings: string[];
  /** Box's request id for the answer (the audit log's box_request_id, issue 18); never stored in the record. */
  requestId?: string;
}

/** Box documents access tokens of 60 minutes and was seen sending 3895 and 4123 s (box-api.md §2). */
export const BOX_ACCESS_TOKEN_LIFETIME_S = 3600;
/**
 * Above this an expires_in is not believed (1e12 would keep a dead token "fresh" forever): Box's 3600 is used.
 * Two hours, twice Box's documented life: session.ts also treats a saved expiry further ahead than this (plus
 * clock skew) as written by a wrong clock and refreshes (REVIEW-1 finding 7c), so the two must agree.
 */
export const MAX_PLAUSIBLE_EXPIRES_IN_S = 7_200;

export interface TokenEndpointOptions {
  http: HttpContext;
  apiBaseUrl: URL;
  credentials: ClientCredentials;
}

type Grant = 'authorization_code' | 'refresh_token' | 'revoke';

function post(
  opts: TokenEndpointOptions,
  path: string,
  grant: Grant,
  fields: Record<string, string>,
): Promise<HttpResponse> {
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
): Promise<ReceivedPair> {
  const fields: Record<string, string> = { grant_type: 'authorization_code', code };
  if (extra.redirectUri !== undefined) fields.redirect_uri = extra.redirectUri;
  if (extra.codeVerifier !== undefined) fields.code_verifier = extra.codeVerifier;
  return parseTokenResponse(await post(opts, '/oauth2/token', 'authorization_code', fields));
}

/** One attempt, never retried. A 200 is salvaged as far as it can be (parseRefreshAnswer). */
export async function refreshTokens(opts: TokenEndpointOptions, refreshToken: string): Promise<ReceivedPair> {
  const res = await post(opts, '/oauth2/token', 'refresh_token', {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });
  return parseRefreshAnswer(res);
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
 * The code exchange's 200 (connect): nothing was stored before it, so a missing refresh or access token is a
 * plain failure (connect needs the access token to ask Box who granted); a malformed expires_in is defaulted
 * as for a refresh. The legacy Node SDK's isValidTokenResponse checks the same fields (box-api.md §2;
 * reliability.md F11: never keep an old RT because the answer lacked a new one).
 */
export function parseTokenResponse(res: HttpResponse): ReceivedPair {
  if (res.status !== 200) throw tokenEndpointError(res, tryParseJson(res));
  const body = tryParseJson(res);
  if (body === undefined) throw malformed(res, undefined, 'with a body that is not JSON');
  const { access_token: accessToken, refresh_token: refreshToken } = body;
  if (typeof refreshToken !== 'string' || refreshToken === '')
    throw malformed(res, body, 'without a new refresh_token');
  if (typeof accessToken !== 'string' || accessToken === '') throw malformed(res, body, 'without an access_token');
  if (!isOAuthToken(refreshToken) || !isOAuthToken(accessToken))
    throw malformed(res, body, 'with a token holding characters no OAuth token has');
  const warnings: string[] = [];
  return withRequestId(
    { accessToken, refreshToken, expiresIn: lifetimeOf(body.expires_in, warnings), warnings },
    requestIdOf(res, body),
  );
}

function withRequestId(pair: ReceivedPair, requestId: string | undefined): ReceivedPair {
  if (requestId !== undefined) pair.requestId = requestId;
  return pair;
}

/**
 * A refresh's answer. Non-200: the mapped error. 200 with a non-empty string refresh_token: saved whatever
 * else is wrong (an access token missing -> '' and expired; expires_in malformed -> 0 = unknown life, counts
 * as expired; implausibly large -> Box's 3600 s). Anything else: RotationUnknownError.
 */
export function parseRefreshAnswer(res: HttpResponse): ReceivedPair {
  if (res.status !== 200) throw tokenEndpointError(res, tryParseJson(res));
  const body = tryParseJson(res);
  const requestId = requestIdOf(res, body);
  if (body === undefined) {
    throw new RotationUnknownError(
      `${res.label}: Box answered 200 with a body that is not JSON: the rotated refresh token, if any, was not received and the connection may be lost`,
      requestId,
    );
  }
  const { access_token: accessToken, refresh_token: refreshToken } = body;
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    throw new RotationUnknownError(
      `${res.label}: Box answered 200 without a new refresh_token: the connection may be lost`,
      requestId,
    );
  }
  if (!isOAuthToken(refreshToken)) {
    throw new RotationUnknownError(
      `${res.label}: Box answered 200 with a refresh_token holding characters no OAuth token has (it could be neither stored nor sent back): the connection may be lost`,
      requestId,
    );
  }
  const warnings: string[] = [];
  if (typeof accessToken !== 'string' || accessToken === '' || !isOAuthToken(accessToken)) {
    const what =
      typeof accessToken === 'string' && accessToken !== ''
        ? 'an access_token holding characters no OAuth token has'
        : 'no access_token';
    warnings.push(`Box answered with ${what}: the new refresh token was saved, the access token counts as expired`);
    noteLongTokens({ accessToken: '', refreshToken }, warnings);
    return withRequestId({ accessToken: '', refreshToken, expiresIn: 0, warnings }, requestId);
  }
  noteLongTokens({ accessToken, refreshToken }, warnings);
  return withRequestId(
    { accessToken, refreshToken, expiresIn: lifetimeOf(body.expires_in, warnings), warnings },
    requestId,
  );
}

/**
 * An OAuth token is 1*VSCHAR, %x20-7E (RFC 6749 appendix A.12, A.13, A.17); Box's are alphanumeric. Anything
 * else is not a token we can keep (REVIEW-1 finding 2): PostgreSQL's jsonb refuses U+0000 and lone
 * surrogates (one bad record failed a whole group commit), URLSearchParams would send a lone surrogate back
 * as U+FFFD and a header value refuses control characters. Escaping it would store a different string, so a
 * presented token would be refused all the same: such a token counts as missing instead.
 */
export function isOAuthToken(value: unknown): value is string {
  return typeof value === 'string' && /^[\x20-\x7e]+$/.test(value);
}

/**
 * The store reserves room for tokens up to MAX_STORED_TOKEN_BYTES (write-reserve.ts). A longer one is still
 * saved (refusing it would lose a rotation for certain, review 3 #5), but only a disk with free space can take
 * it: say so.
 */
function noteLongTokens(pair: { accessToken: string; refreshToken: string }, warnings: string[]): void {
  const longest = Math.max(storedLength(pair.accessToken), storedLength(pair.refreshToken));
  if (longest > MAX_STORED_TOKEN_BYTES) {
    warnings.push(
      `Box answered with a token of ${longest} bytes, more than the ${MAX_STORED_TOKEN_BYTES} the store reserves room for: saved, but a full disk could have stopped this save`,
    );
  }
}

/** Bytes the token takes inside the store's JSON: printable ASCII, so only `"` and `\` grow (to two). */
function storedLength(token: string): number {
  let n = token.length;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n++;
  }
  return n;
}

/** expires_in in seconds, or 0 (unknown life: the token counts as expired) with a warning. */
function lifetimeOf(raw: unknown, warnings: string[]): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw > 0) {
    if (raw <= MAX_PLAUSIBLE_EXPIRES_IN_S) return raw;
    warnings.push(
      `Box answered expires_in ${raw} s, above any plausible lifetime: using Box's documented ${BOX_ACCESS_TOKEN_LIFETIME_S} s`,
    );
    return BOX_ACCESS_TOKEN_LIFETIME_S;
  }
  const what =
    raw === undefined ? 'no expires_in' : typeof raw === 'number' ? `expires_in ${raw}` : `a ${typeof raw} expires_in`;
  warnings.push(
    `Box answered ${what}: the access token counts as expired (the next use refreshes it with the saved refresh token)`,
  );
  return 0;
}

function malformed(res: HttpResponse, body: unknown, what: string): BoxApiError {
  return new BoxApiError(
    `${res.label}: Box answered 200 ${what}`,
    { status: res.status, requestId: requestIdOf(res, body) },
    {
      code: 'E_BOX_BAD_RESPONSE',
    },
  );
}

/** Maps a non-2xx token/revoke answer to the error the module comment documents. */
export function tokenEndpointError(res: HttpResponse, body: Record<string, unknown> | undefined): BoxQcError {
  const error = typeof body?.error === 'string' ? body.error : undefined;
  const description = typeof body?.error_description === 'string' ? body.error_description : '';
  const requestId = requestIdOf(res, body);
  if (error === 'invalid_grant') {
    // Box's only signal for "idle 60 days" vs "used/revoked" is the description (box-api.md §2 table).
    const kind: InvalidGrantKind = /expired/i.test(description) ? 'expired' : 'invalid';
    return new InvalidGrantError(
      kind,
      kind === 'expired' ? 'Box says the token has expired (invalid_grant)' : 'Box rejected the token (invalid_grant)',
      requestId,
    );
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
  if (body === undefined)
    return new BoxApiError(
      `${res.label}: Box answered ${res.status} with a body that is not JSON`,
      { status: res.status, requestId },
      { code: 'E_BOX_BAD_RESPONSE' },
    );
  return new BoxApiError(`${res.label}: Box answered ${res.status}${error ? ` ${error}` : ''}`, {
    status: res.status,
    requestId,
    boxCode: error,
  });
}
