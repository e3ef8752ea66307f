/**
 * Box 2.0 API error parsing (box-api.md §6): ClientError JSON `{type:"error", status, code, message,
 * request_id}`, or an empty 401 with `WWW-Authenticate`. Box's own text is never trusted for control flow
 * beyond `code`; messages carry method, path, status and code only.
 */
import { BoxApiError, TemporaryError } from '../../errors.js';
import { requestIdOf, tryParseJson, type HttpResponse } from '../http/request.js';

/** 401 on a 2.0 call: the access token is unknown, revoked or expired. */
export class UnauthorizedError extends BoxApiError {
  /** `invalid_token` / `expired_token` from WWW-Authenticate, when present. */
  readonly authError: string | undefined;
  constructor(res: HttpResponse, authError: string | undefined) {
    super(
      `${res.label}: Box rejected the access token (401${authError ? ` ${authError}` : ''})`,
      {
        status: 401,
        requestId: res.requestId,
        boxCode: authError,
      },
      { code: 'E_BOX_UNAUTHORIZED' },
    );
    this.authError = authError;
  }
}

function wwwAuthenticateError(res: HttpResponse): string | undefined {
  const header = res.headers['www-authenticate'];
  const match = header ? /error="([^"]*)"/.exec(header) : null;
  return match?.[1];
}

/** True for the answers that may pass on their own: 429 and 5xx except 507 (legacy Node SDK; box-api.md §6). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 507);
}

/** Turns a non-2xx 2.0 answer into the typed error a caller branches on. */
export function boxApiErrorFrom(res: HttpResponse): BoxApiError | TemporaryError {
  if (res.status === 401) return new UnauthorizedError(res, wwwAuthenticateError(res));
  const body = tryParseJson(res);
  const code = typeof body?.code === 'string' ? body.code : undefined;
  const requestId = requestIdOf(res, body);
  if (isRetryableStatus(res.status)) {
    return new TemporaryError(`${res.label}: Box answered ${res.status}${code ? ` ${code}` : ''}`, {
      code: 'E_BOX_TEMPORARY',
      details: { status: res.status, requestId },
    });
  }
  const kind = body === undefined ? ' with a body that is not JSON' : code ? ` ${code}` : '';
  return new BoxApiError(`${res.label}: Box answered ${res.status}${kind}`, {
    status: res.status,
    requestId,
    boxCode: code,
  });
}
