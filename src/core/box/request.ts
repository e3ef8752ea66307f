/**
 * One authenticated GET against the 2.0 API with Box's retry policy (box-api.md §6 "How official SDKs
 * retry"): at most 5 attempts in all; 429 and 5xx (except 507) and network errors are retried, waiting
 * Retry-After when Box sends it, else 2^n x base x rand(0.5..1.5); a 401 asks the caller for a new access
 * token once (the session refreshes through the protocol) and repeats the same request. GETs only: retrying
 * them is safe, unlike the token POST (reliability.md F9).
 */
import { apiUrl } from '../../config.js';
import { TemporaryError } from '../../errors.js';
import { NetworkError, retryAfterMs, sendRequest, type HttpContext, type HttpResponse } from '../http/request.js';
import { boxApiErrorFrom, isRetryableStatus, UnauthorizedError } from './errors.js';

export interface AccessTokenSource {
  /** A usable access token. */
  get(): Promise<string>;
  /** Box said 401 for `rejected`: return a new token (refreshing if needed), or throw. Called at most once per request. */
  renew?(rejected: string): Promise<string>;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  /** Cap on one wait, Retry-After included. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 60_000 };

export interface BoxRequestOptions {
  http: HttpContext;
  apiBaseUrl: URL;
  retry?: RetryPolicy;
}

export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const jitter = 0.5 + random();
  return Math.min(policy.maxDelayMs, 2 ** (attempt - 1) * policy.baseDelayMs * jitter);
}

/** GET path?query with a bearer token; resolves only with a 2xx response. */
export async function boxGet(
  opts: BoxRequestOptions,
  path: string,
  query: Record<string, string>,
  auth: AccessTokenSource,
): Promise<HttpResponse> {
  const policy = opts.retry ?? DEFAULT_RETRY;
  const url = apiUrl(opts.apiBaseUrl, path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  let token = await auth.get();
  let renewed = false;
  for (let attempt = 1; ; attempt++) {
    let res: HttpResponse | undefined;
    let failure: unknown;
    try {
      res = await sendRequest(opts.http, { method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      failure = err;
    }
    if (res && res.status >= 200 && res.status < 300) return res;
    if (res?.status === 401 && auth.renew && !renewed) {
      renewed = true;
      token = await auth.renew(token);
      attempt -= 1; // the 401 round does not count against the 5 attempts for transient failures
      continue;
    }
    if (res && !isRetryableStatus(res.status)) throw boxApiErrorFrom(res);
    failure ??= res ? boxApiErrorFrom(res) : undefined;
    if (attempt >= policy.maxAttempts) throw giveUp(failure, attempt);
    const wait = Math.min(
      policy.maxDelayMs,
      (res && retryAfterMs(res)) ?? backoffMs(policy, attempt, opts.http.random),
    );
    opts.http.log.debug(`retrying ${path} in ${Math.round(wait)} ms (attempt ${attempt + 1} of ${policy.maxAttempts})`);
    await opts.http.sleep(wait, opts.http.signal);
  }
}

function giveUp(failure: unknown, attempts: number): TemporaryError {
  const reason = failure instanceof Error ? failure.message : 'Box did not answer';
  return new TemporaryError(`${reason} (gave up after ${attempts} attempts)`, {
    code: failure instanceof TemporaryError ? failure.code : 'E_TEMPORARY',
    cause: failure,
    details: failure instanceof TemporaryError ? failure.details : undefined,
  });
}

export { UnauthorizedError };
