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
 * OWNER: issue 6. The signatures below are the contract other modules code against.
 */
import type { HttpContext } from '../http.js';
import type { TokenPair } from '../store/types.js';
import type { ClientCredentials } from '../../config.js';
import { BoxQcError, ExitCode } from '../../errors.js';

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

export async function exchangeCode(
  _opts: TokenEndpointOptions,
  _code: string,
  _extra: { redirectUri?: string; codeVerifier?: string },
): Promise<TokenPair> {
  throw new Error('exchangeCode: not implemented yet (issue 6)');
}

/** One attempt, never retried. */
export async function refreshTokens(_opts: TokenEndpointOptions, _refreshToken: string): Promise<TokenPair> {
  throw new Error('refreshTokens: not implemented yet (issue 6)');
}

/** Revokes the whole grant. 400 invalid_token means "already invalid": resolves 'already-invalid'. */
export async function revokeToken(_opts: TokenEndpointOptions, _token: string): Promise<'revoked' | 'already-invalid'> {
  throw new Error('revokeToken: not implemented yet (issue 6)');
}
