/**
 * The undici transport for core/http/request.ts: EnvHttpProxyAgent, used whenever HTTP_PROXY or HTTPS_PROXY is set
 * (the one proxy implementation here), or when a caller asks for undici. Loaded lazily with undici itself.
 *
 * undici's own headers and body timeouts are off: they are plain timers, which fire before the socket is
 * read when a paused process wakes (core/http/deadline.ts, issue 15 item 3). The request's Deadline bounds
 * the whole exchange instead, and the body is read here chunk by chunk so the deadline sees it arriving.
 */
import type { Dispatcher } from 'undici';
import { decodeBody, type HttpPool, type PoolRequest, type PoolResponse } from './pool.js';
import { loopbackLookup } from './loopback-lookup.js';

export interface UndiciPoolOptions {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  /** See HttpContextOptions.beforeUndiciLoads. */
  beforeUndiciLoads?: () => Promise<void>;
}

export function createUndiciPool(options: UndiciPoolOptions): HttpPool {
  let created: Promise<Dispatcher> | undefined;
  const dispatcher = (): Promise<Dispatcher> => {
    created ??= (options.beforeUndiciLoads ? options.beforeUndiciLoads() : Promise.resolve())
      .then(() => import('undici'))
      .then(
        ({ EnvHttpProxyAgent }) =>
          new EnvHttpProxyAgent({
            httpProxy: options.httpProxy,
            httpsProxy: options.httpsProxy,
            noProxy: options.noProxy,
            // lookup: `localhost` is loopback without DNS, other *.localhost never looked up (issue 15 item 8).
            connect: { timeout: options.connectTimeoutMs, lookup: loopbackLookup },
            headersTimeout: 0,
            bodyTimeout: 0,
            keepAliveTimeout: 10_000,
            maxResponseSize: options.maxResponseBytes,
          }),
      );
    return created;
  };
  return {
    async send(req: PoolRequest): Promise<PoolResponse> {
      const [{ request }, d] = await Promise.all([import('undici'), dispatcher()]);
      const res = await request(req.url, {
        dispatcher: d,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
      req.progress?.received();
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        req.progress?.received();
        chunks.push(chunk);
        length += chunk.length;
      }
      return { status: res.statusCode, headers: res.headers, text: decodeBody(chunks, length) };
    },
    async close() {
      // destroy(), not close(): close() would also wait for a GET in flight, the next page `ls --limit`
      // prefetched, which nobody wants any more. POSTs in flight were waited for first (core/http/close.ts).
      if (created) await (await created.catch(() => undefined))?.destroy().catch(() => undefined);
    },
  };
}
