/**
 * The node:http transport for core/http/request.ts: Node's built-in HTTP client (keep-alive Agent, native llhttp),
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
import type { Agent as HttpAgent, ClientRequest, IncomingMessage } from 'node:http';
import { decodeBody, type HttpPool, type PoolRequest, type PoolResponse } from './pool.js';
import { afterPendingIo } from './deadline.js';
import { loopbackLookup } from './loopback-lookup.js';

export interface NodePoolOptions {
  connectTimeoutMs: number;
  /** A body larger than this fails the request (a hostile or misdirected server cannot exhaust memory). */
  maxResponseBytes: number;
  /** How long an idle connection may wait for the next POST (default 2 s; see the POST agent below). */
  postIdleMs?: number;
}

/** Idle kept-alive sockets are closed after this long, as undici's keepAliveTimeout did (a NAT may drop them). */
const IDLE_SOCKET_MS = 10_000;
/**
 * A POST (the token endpoint, carrying a single-use refresh token) reuses a connection only if it was busy
 * less than this long ago. A server closes idle connections after its keep-alive timeout (Node's default is
 * 5 s, front ends' usually a minute); a POST written into a connection the server is closing fails with a
 * reset that leaves unknown whether Box consumed the refresh token (reliability.md F8/F9: a replay then).
 * Closing our idle sockets well before any server does keeps that race out, while a refresh --all fan-out
 * still reuses its connections back to back instead of paying a TCP and TLS handshake per user.
 */
const POST_IDLE_MS = 2_000;

function tooLarge(limit: number): Error {
  return new Error(`response body larger than ${limit} bytes`);
}

type HttpModule = typeof import('node:http');

export function createNodePool(options: NodePoolOptions): HttpPool {
  const agents = new Map<string, HttpAgent>();
  const postAgents = new Map<string, HttpAgent>();
  const modules = new Map<string, Promise<HttpModule>>();
  const load = (protocol: string): Promise<HttpModule> => {
    let m = modules.get(protocol);
    if (!m) {
      m = (protocol === 'https:' ? import('node:https') : import('node:http')) as Promise<HttpModule>;
      modules.set(protocol, m);
    }
    return m;
  };
  const agentFor = (method: 'GET' | 'POST', protocol: string, mod: HttpModule): HttpAgent => {
    const pool = method === 'POST' ? postAgents : agents;
    let agent = pool.get(protocol);
    if (!agent) {
      // No cap on connections: callers bound their own concurrency (ls one page ahead, refresh --all --concurrency).
      // `timeout` closes only free sockets (Node's Agent leaves a socket with a request in flight alone).
      // lookup: `localhost` is loopback without DNS, other *.localhost never looked up (issue 15 item 8).
      agent = new mod.Agent({
        keepAlive: true,
        timeout: method === 'POST' ? (options.postIdleMs ?? POST_IDLE_MS) : IDLE_SOCKET_MS,
        lookup: loopbackLookup,
      });
      pool.set(protocol, agent);
    }
    return agent;
  };
  return {
    prepare(url: URL): void {
      // A failure to load shows in the send that needs the module, as without prepare.
      load(url.protocol).catch(() => undefined);
    },
    async send(req: PoolRequest): Promise<PoolResponse> {
      const mod = await load(req.url.protocol);
      const agent = agentFor(req.method, req.url.protocol, mod);
      return new Promise<PoolResponse>((resolve, reject) => {
        let settled = false;
        const fail = (err: unknown) => {
          if (settled) return;
          settled = true;
          reject(err);
        };
        const headers: Record<string, string> = { ...req.headers };
        if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
        let request: ClientRequest;
        try {
          request = mod.request(
            req.url,
            { method: req.method, headers, agent, signal: req.signal },
            (res: IncomingMessage) => {
              const chunks: Buffer[] = [];
              let length = 0;
              res.on('data', (chunk: Buffer) => {
                length += chunk.length;
                if (length > options.maxResponseBytes) request.destroy(tooLarge(options.maxResponseBytes));
                else chunks.push(chunk);
              });
              res.on('error', fail);
              res.on('end', () => {
                if (settled) return;
                let text: string;
                try {
                  text = decodeBody(chunks, length);
                } catch (err) {
                  fail(err); // not reachable below the size limit; never an exception thrown from an event handler
                  return;
                }
                settled = true;
                resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
              });
              res.on('close', () => {
                if (!res.complete)
                  fail(
                    Object.assign(new Error('connection closed before the response was complete'), {
                      code: 'ECONNRESET',
                    }),
                  );
              });
            },
          );
        } catch (err) {
          // Invalid header characters and the like are thrown synchronously.
          fail(err);
          return;
        }
        request.on('error', fail);
        request.on('socket', (socket) => {
          // Every chunk of the answer, status line included, tells the deadline the answer is arriving.
          const onData = () => req.progress?.received();
          socket.on('data', onData);
          request.once('close', () => socket.off('data', onData));
          if (!socket.connecting) {
            req.progress?.connected(); // a kept-alive connection: the request goes out at once
            return;
          }
          let up = false;
          const timer = setTimeout(() => {
            // Judged after a poll, like the deadline: a connect that completed while we were paused counts.
            afterPendingIo(() => {
              if (!up)
                request.destroy(
                  Object.assign(new Error(`connect timed out after ${options.connectTimeoutMs} ms`), {
                    code: 'ETIMEDOUT',
                  }),
                );
            });
          }, options.connectTimeoutMs);
          timer.unref();
          // For https the connection is usable after the TLS handshake, which the limit covers too (as undici's).
          // Only then can a byte of the request reach the server: before it, a failure provably sent nothing.
          socket.once(req.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
            up = true;
            clearTimeout(timer);
            req.progress?.connected();
          });
          socket.once('close', () => clearTimeout(timer));
        });
        request.end(req.body);
      });
    },
    reportsConnect: true,
    async close() {
      // POSTs in flight were waited for and GETs in flight cut before this (core/http/close.ts).
      for (const agent of [...agents.values(), ...postAgents.values()]) agent.destroy();
      agents.clear();
      postAgents.clear();
    },
  };
}
