/**
 * HTTP plumbing shared by the OAuth and Box clients: one connection pool passed in explicitly (no global
 * dispatcher), a connect timeout and a per-request deadline that never discards an answer that has arrived
 * (core/http/deadline.ts), proxies from HTTPS_PROXY / NO_PROXY (EnvHttpProxyAgent), `User-Agent:
 * box-qc/<version>`. The pool is Node's own node:http (core/http/node-transport.ts, why there) unless a proxy is
 * configured; then it is undici's EnvHttpProxyAgent (core/http/undici-transport.ts), imported lazily (a status run must
 * not pay for it). Both connect `localhost` to loopback without DNS (core/http/loopback-lookup.ts).
 *
 * Each call is split into "send" (sendRequest: bytes in, status + headers + text out; network failures become
 * NetworkError, core/http/network-error.ts, saying whether the request may have been sent) and "parse" (parseJson:
 * text into `unknown`, or a BoxApiError carrying status and Box's request id when Box answered with HTML or
 * garbage; never a SyntaxError). STYLE.md "HTTP".
 */
import { setTimeout as delay } from 'node:timers/promises';
import { BoxApiError, OperationError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { isPoolClosed, withGracefulClose } from './close.js';
import { startDeadline } from './deadline.js';
import { networkError } from './network-error.js';
import type { HttpPool, PoolResponse } from './pool.js';

export { NetworkError } from './network-error.js';
export type { HttpPool, PoolRequest, PoolResponse } from './pool.js';

export interface HttpLog {
  /** --debug: method, path, status, request id, grant type. Never bodies, tokens or Authorization. */
  debug(line: string): void;
}

export interface HttpContext {
  pool: HttpPool;
  userAgent: string;
  log: HttpLog;
  /** Total time allowed for one request, headers and body (ms). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Sleeps between retries; tests pass a fake. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Jitter source in [0,1). */
  random(): number;
}

export interface HttpContextOptions {
  env: Record<string, string | undefined>;
  log: HttpLog;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Connect timeout (ms), default 10 s. */
  connectTimeoutMs?: number;
  /** A response body larger than this is a NetworkError (default 64 MiB; a folder page is ~150 KB). */
  maxResponseBytes?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /**
   * Called once, right before undici is first imported (only runs through a proxy load it). The CLI, which owns
   * its process, sets a V8 flag there (src/v8-flags.ts compileWasmWithBaselineOnly, why there); core itself
   * never touches process-wide state, and library users get no hook unless they pass one.
   */
  beforeUndiciLoads?: () => Promise<void>;
  /**
   * 'node' (default): Node's built-in node:http (core/http/node-transport.ts, why there), except that whenever
   * HTTP_PROXY or HTTPS_PROXY is set undici's EnvHttpProxyAgent is used, the one proxy implementation here.
   * 'undici': always undici.
   */
  transport?: 'undici' | 'node';
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The limits both transports apply, defaults filled in once. */
interface PoolLimits {
  connectTimeoutMs: number;
  maxResponseBytes: number;
}

function envValue(env: Record<string, string | undefined>, name: string): string {
  // Lower case wins, as in curl and undici; '' (not undefined) so undici does not fall back to process.env.
  return env[name.toLowerCase()] ?? env[name] ?? '';
}

/** True when requests may go through a proxy: only undici's EnvHttpProxyAgent implements proxies here. */
function proxyConfigured(env: Record<string, string | undefined>): boolean {
  return envValue(env, 'HTTP_PROXY') !== '' || envValue(env, 'HTTPS_PROXY') !== '';
}

export async function createHttpContext(options: HttpContextOptions): Promise<HttpContext> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limits: PoolLimits = {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  // close() never cuts a POST in flight: it may carry a refresh token (core/http/close.ts).
  const pool = withGracefulClose(
    (options.transport ?? 'node') === 'node' && !proxyConfigured(options.env)
      ? (await import('./node-transport.js')).createNodePool(limits)
      : (await import('./undici-transport.js')).createUndiciPool({
          httpProxy: envValue(options.env, 'HTTP_PROXY'),
          httpsProxy: envValue(options.env, 'HTTPS_PROXY'),
          noProxy: envValue(options.env, 'NO_PROXY'),
          ...(options.beforeUndiciLoads ? { beforeUndiciLoads: options.beforeUndiciLoads } : {}),
          ...limits,
        }),
  );
  const ctx: HttpContext = {
    pool,
    userAgent: `box-qc/${VERSION}`,
    log: options.log,
    timeoutMs,
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
  };
  if (options.signal) ctx.signal = options.signal;
  return ctx;
}

/**
 * Closes the keep-alive sockets (if a request ever opened any) so a short-lived process exits at once; waits
 * for POSTs in flight first and cuts GETs in flight (core/http/close.ts).
 */
export async function closeHttpContext(ctx: HttpContext): Promise<void> {
  await ctx.pool.close();
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal ? { signal } : undefined);
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  /** Form fields, sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Extra --debug fact, e.g. `grant refresh_token`. Never a secret. */
  logNote?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  text: string;
  /** BOX-REQUEST-ID header (body request_id is looked at by parseJson). */
  requestId: string | undefined;
  /** For messages and logs: method and path, never the query. */
  label: string;
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * Sends one request (no retries). Network failures and timeouts -> NetworkError; a caller's abort is rethrown.
 * The deadline never discards an answer that has arrived (core/http/deadline.ts).
 */
export async function sendRequest(ctx: HttpContext, req: HttpRequest): Promise<HttpResponse> {
  const label = `${req.method} ${req.url.pathname}`;
  const timeoutMs = req.timeoutMs ?? ctx.timeoutMs;
  const deadline = startDeadline(timeoutMs, { abortUnconnected: ctx.pool.reportsConnect === true });
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline.signal]) : deadline.signal;
  const headers: Record<string, string> = { 'user-agent': ctx.userAgent, accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.form) {
    body = new URLSearchParams(req.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const note = req.logNote ? ` (${req.logNote})` : '';
  let res: PoolResponse;
  try {
    res = await ctx.pool.send({ method: req.method, url: req.url, headers, body, signal, progress: deadline });
  } catch (err) {
    if (ctx.signal?.aborted) throw ctx.signal.reason ?? err;
    // Cut by close(): the caller is done with it; not a network failure to retry (core/http/close.ts).
    if (isPoolClosed(err))
      throw new OperationError('E_POOL_CLOSED', `${label}: cancelled, the connection pool was closed`, { cause: err });
    const failure = networkError(label, err, deadline, timeoutMs, ctx.pool.reportsConnect === true);
    debug(ctx.log, `${failure.message.replace(`${label}: `, `${label} -> network error: `)}${note}`);
    throw failure;
  } finally {
    deadline.dispose();
  }
  const flat = flattenHeaders(res.headers);
  const requestId = flat['box-request-id'];
  debug(ctx.log, `${label} -> ${res.status}${requestId ? ` request-id ${requestId}` : ''}${note}`);
  return { status: res.status, headers: flat, text: res.text, requestId, label };
}

/**
 * --debug lines never fail a request: a logger that throws (stderr on a full disk, a closed pipe) must not
 * turn an answer Box already gave, perhaps a rotated refresh token, into a NetworkError (issue 15 item 1).
 */
function debug(log: HttpLog, line: string): void {
  try {
    log.debug(line);
  } catch {
    // best effort by design
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Box's request id: the BOX-REQUEST-ID header, else `request_id` in a JSON error body. */
export function requestIdOf(res: HttpResponse, body?: unknown): string | undefined {
  if (res.requestId) return res.requestId;
  if (isRecord(body) && typeof body.request_id === 'string') return body.request_id;
  return undefined;
}

/** Parses a JSON object; HTML, empty or garbage -> BoxApiError (E_BOX_BAD_RESPONSE) with status and request id. */
export function parseJson(res: HttpResponse): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.text);
  } catch {
    parsed = undefined;
  }
  if (!isRecord(parsed)) {
    const kind = res.text.trim() === '' ? 'an empty body' : /^\s*</.test(res.text) ? 'HTML' : 'a body that is not JSON';
    throw new BoxApiError(
      `${res.label}: Box answered ${res.status} with ${kind} where JSON was expected`,
      {
        status: res.status,
        requestId: res.requestId,
      },
      { code: 'E_BOX_BAD_RESPONSE' },
    );
  }
  return parsed;
}

/** Like parseJson but never throws: for error bodies that may legitimately be empty (401) or HTML (a proxy). */
export function tryParseJson(res: HttpResponse): Record<string, unknown> | undefined {
  try {
    return parseJson(res);
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds (box-api.md §6: `retry-after: <seconds>`); header names arrive lower-cased. */
export function retryAfterMs(res: HttpResponse): number | undefined {
  const raw = res.headers['retry-after'];
  if (raw === undefined) return undefined;
  const seconds = Number(raw.trim());
  // Box sends seconds; an HTTP-date form is ignored (the caller falls back to its own backoff).
  return raw.trim() !== '' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

export { isRecord };
