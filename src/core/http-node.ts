/**
 * The node:http transport for core/http.ts: Node's built-in HTTP client (keep-alive Agent, native llhttp),
 * used whenever no proxy is configured. Proxies (HTTPS_PROXY, NO_PROXY rules, CONNECT tunnels) stay with
 * undici's EnvHttpProxyAgent rather than being written here a second time.
 *
 * Why not undici for everything (issue 8): undici parses HTTP in WebAssembly.
 * - ls peak RSS: V8's optimisation of that parser alone cost ~35 MB once a listing made it hot; the
 *   baseline compiler only (--liftoff-only) avoided that but made ls ~13% slower, and undici still peaked
 *   at 87-107 MB at 1M items. Node's parser is C++: nothing to compile. The same loop peaked at 54 MB (10k
 *   items) and 67 MB (1M), as fast as undici or faster.
 * - A run with one token request (token, refresh --email): loading undici and compiling its parser is most
 *   of the request's cost. The lock storm (32 `token` for one expired user) went from 1.98-2.24x to 1.55x.
 *
 * Same contract as the undici pool: status + lower-cased headers + the whole body as text; failures reject
 * with the underlying error (its `code`), which sendRequest turns into a NetworkError.
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { HttpPool, PoolRequest, PoolResponse } from './http.js';

export interface NodePoolOptions {
  connectTimeoutMs: number;
}

type HttpModule = typeof import('node:http');

export function createNodePool(options: NodePoolOptions): HttpPool {
  const agents = new Map<string, HttpAgent>();
  const modules = new Map<string, Promise<HttpModule>>();
  const load = (protocol: string): Promise<HttpModule> => {
    let m = modules.get(protocol);
    if (!m) {
      m = (protocol === 'https:' ? import('node:https') : import('node:http')) as Promise<HttpModule>;
      modules.set(protocol, m);
    }
    return m;
  };
  const agentFor = (protocol: string, mod: HttpModule): HttpAgent => {
    let agent = agents.get(protocol);
    if (!agent) {
      // No cap on connections: callers bound their own concurrency (ls one page ahead, refresh --all --concurrency).
      agent = new mod.Agent({ keepAlive: true });
      agents.set(protocol, agent);
    }
    return agent;
  };
  return {
    async send(req: PoolRequest): Promise<PoolResponse> {
      const mod = await load(req.url.protocol);
      // A POST (the token endpoint) never rides on a kept-alive socket: if a server had half-closed it, the
      // reset would leave unknown whether Box consumed the single-use refresh token (reliability.md F9).
      const agent = req.method === 'GET' ? agentFor(req.url.protocol, mod) : new mod.Agent({ keepAlive: false });
      return new Promise<PoolResponse>((resolve, reject) => {
        let settled = false;
        const fail = (err: unknown) => {
          if (settled) return;
          settled = true;
          reject(err);
        };
        const headers: Record<string, string> = { ...req.headers };
        if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
        let request;
        try {
          request = mod.request(req.url, { method: req.method, headers, agent, signal: req.signal }, (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', fail);
            res.on('end', () => {
              if (settled) return;
              settled = true;
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
            });
            res.on('close', () => {
              if (!res.complete) fail(Object.assign(new Error('connection closed before the response was complete'), { code: 'ECONNRESET' }));
            });
          });
        } catch (err) {
          // Invalid header characters and the like are thrown synchronously.
          fail(err);
          return;
        }
        request.on('error', fail);
        request.on('socket', (socket) => {
          if (!socket.connecting) return;
          const timer = setTimeout(() => {
            request.destroy(Object.assign(new Error(`connect timed out after ${options.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
          }, options.connectTimeoutMs);
          timer.unref();
          socket.once('connect', () => clearTimeout(timer));
          socket.once('close', () => clearTimeout(timer));
        });
        request.end(req.body);
      });
    },
    async close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}
