/**
 * HTTP plumbing shared by the OAuth and Box clients: one undici dispatcher passed in explicitly (no global
 * dispatcher), timeouts on connect and body, proxies from HTTPS_PROXY / NO_PROXY (EnvHttpProxyAgent),
 * `User-Agent: box-qc/<version>`. undici is imported lazily: a status run must not pay for it.
 *
 * OWNER: issue 6. The signatures below are the contract other modules code against.
 */
import type { Dispatcher } from 'undici';

export interface HttpLog {
  /** --debug: method, path, status, request id, grant type. Never bodies, tokens or Authorization. */
  debug(line: string): void;
}

export interface HttpContext {
  dispatcher: Dispatcher;
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
}

export async function createHttpContext(_options: HttpContextOptions): Promise<HttpContext> {
  throw new Error('createHttpContext: not implemented yet (issue 6)');
}
