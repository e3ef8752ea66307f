import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHttpContext,
  closeHttpContext,
  NetworkError,
  parseJson,
  retryAfterMs,
  sendRequest,
  type HttpContext,
} from '../../../src/core/http/request.js';
import { createNodePool } from '../../../src/core/http/node-transport.js';
import { BoxApiError } from '../../../src/errors.js';
import { VERSION } from '../../../src/version.js';
import { json, startLocalServer, text } from './local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

type Transport = 'undici' | 'node';

async function setup(
  replies: Parameters<typeof startLocalServer>[0],
  opts: { timeoutMs?: number; transport?: Transport; maxResponseBytes?: number } = {},
) {
  const server = await startLocalServer(replies);
  const lines: string[] = [];
  const http = await createHttpContext({ env: {}, log: { debug: (l) => lines.push(l) }, ...opts });
  cleanups.push(server.close, () => closeHttpContext(http));
  return { server, http, lines };
}

// Both transports (core/http/request.ts undici, core/http/node-transport.ts node:http) keep one contract.
describe.each<Transport>(['undici', 'node'])('sendRequest over %s', (transport) => {
  const setupWith = (
    replies: Parameters<typeof startLocalServer>[0],
    opts: { timeoutMs?: number; maxResponseBytes?: number } = {},
  ) => setup(replies, { ...opts, transport });

  it('sends User-Agent box-qc/<version> and form bodies', async () => {
    const { server, http } = await setupWith([json(200, { ok: true })]);
    await sendRequest(http, {
      method: 'POST',
      url: new URL('/oauth2/token', server.url),
      form: { grant_type: 'x', a: 'b c' },
    });
    expect(server.requests[0]!.headers['user-agent']).toBe(`box-qc/${VERSION}`);
    expect(server.requests[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(server.requests[0]!.body).toBe('grant_type=x&a=b+c');
  });

  it('logs method, path, status and request id but never the query, body or Authorization', async () => {
    const { server, http, lines } = await setupWith([json(200, {}, { 'box-request-id': 'rid-1' })]);
    await sendRequest(http, {
      method: 'GET',
      url: new URL('/2.0/users/me?secret=q', server.url),
      headers: { authorization: 'Bearer SECRET-AT' },
      logNote: 'grant refresh_token',
    });
    expect(lines).toEqual(['GET /2.0/users/me -> 200 request-id rid-1 (grant refresh_token)']);
    expect(lines.join('\n')).not.toMatch(/SECRET|secret=q/);
  });

  it('turns a refused connection into a NetworkError (exit 75)', async () => {
    const { server, http } = await setupWith([]);
    const url = new URL('/x', server.url);
    await server.close();
    const err = await sendRequest(http, { method: 'GET', url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).exitCode).toBe(75);
  });

  it('turns a request that exceeds the timeout into a NetworkError', async () => {
    const { server, http } = await setupWith(
      [
        () => {
          /* never answers */
        },
      ],
      { timeoutMs: 200 },
    );
    const err = await sendRequest(http, { method: 'GET', url: new URL('/slow', server.url) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toContain('no answer within 0.2 s');
  });

  it('rethrows the caller abort instead of calling it a network failure', async () => {
    const server = await startLocalServer([() => {}]);
    const controller = new AbortController();
    const http: HttpContext = await createHttpContext({
      env: {},
      log: { debug() {} },
      signal: controller.signal,
      transport,
    });
    cleanups.push(server.close, () => closeHttpContext(http));
    setTimeout(() => controller.abort(new Error('received SIGINT')), 50);
    const err = await sendRequest(http, { method: 'GET', url: new URL('/', server.url) }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(NetworkError);
    expect((err as Error).message).toBe('received SIGINT');
  });

  it('honours NO_PROXY for loopback even when HTTPS_PROXY/HTTP_PROXY point nowhere', async () => {
    const server = await startLocalServer([json(200, { ok: 1 })]);
    const http = await createHttpContext({
      env: { HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1' },
      log: { debug() {} },
      transport,
    });
    cleanups.push(server.close, () => closeHttpContext(http));
    const res = await sendRequest(http, { method: 'GET', url: new URL('/', server.url) });
    expect(res.status).toBe(200);
  });

  it('turns a body cut off by the server into a NetworkError, never a short text', async () => {
    const { server, http } = await setupWith([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"entries":[');
        setTimeout(() => res.socket?.destroy(), 20);
      },
    ]);
    const err = await sendRequest(http, { method: 'GET', url: new URL('/cut', server.url) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
  });

  it('drops a leading UTF-8 byte order mark, so a token reply that starts with one still parses', async () => {
    const { server, http } = await setupWith([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"access_token":"x"}')]));
      },
    ]);
    const res = await sendRequest(http, {
      method: 'POST',
      url: new URL('/oauth2/token', server.url),
      form: { a: 'b' },
    });
    expect(parseJson(res).access_token).toBe('x');
  });

  it('fails a body over maxResponseBytes with a NetworkError instead of buffering it', async () => {
    const { server, http } = await setupWith(
      [
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(16 * 1024, 0x20);
          let sent = 0;
          const pump = () => {
            while (sent < 1024 * 1024) {
              sent += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          res.on('error', () => {});
          pump();
        },
      ],
      { maxResponseBytes: 64 * 1024 },
    );
    const err = await sendRequest(http, { method: 'GET', url: new URL('/huge', server.url) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
  });

  it('decodes a UTF-8 body split across chunks', async () => {
    const name = 'caf\u00e9 \u{1F4C1} \u65e5\u672c';
    const { server, http } = await setupWith([
      (_req, res) => {
        const bytes = Buffer.from(JSON.stringify({ name }));
        res.writeHead(200, { 'content-type': 'application/json' });
        // Split inside the multi-byte characters.
        for (let i = 0; i < bytes.length; i += 3) res.write(bytes.subarray(i, i + 3));
        res.end();
      },
    ]);
    const res = await sendRequest(http, { method: 'GET', url: new URL('/utf8', server.url) });
    expect(parseJson(res).name).toBe(name);
  });
});

describe('node:http transport', () => {
  it('keeps one connection for consecutive GETs, and POSTs on their own connections, reused only while recently busy', async () => {
    const { server, http } = await setup(() => json(200, {}), { transport: 'node' });
    await closeHttpContext(http);
    http.pool = createNodePool({ connectTimeoutMs: 5_000, maxResponseBytes: 1 << 20, postIdleMs: 150 });
    const get = (path: string) => sendRequest(http, { method: 'GET', url: new URL(path, server.url) });
    const post = () =>
      sendRequest(http, {
        method: 'POST',
        url: new URL('/oauth2/token', server.url),
        form: { grant_type: 'refresh_token' },
      });
    await get('/a');
    await get('/b');
    await post();
    await post(); // back to back, as in refresh --all: the same connection
    await new Promise((resolve) => setTimeout(resolve, 400)); // idle past postIdleMs: that connection is closed
    await post();
    await get('/c');
    const [a, b, p1, p2, p3, c] = server.requests.map((r) => r.remotePort);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(p1).not.toBe(a);
    expect(p2).toBe(p1);
    expect(p3).not.toBe(p1);
    expect(p3).not.toBe(a);
    expect(server.requests[2]!.body).toBe('grant_type=refresh_token');
  });

  it('leaves proxies to undici: with HTTP_PROXY set, requests go through the proxy', async () => {
    const server = await startLocalServer([json(200, { ok: 1 })]);
    const proxied: string[] = [];
    const proxy = createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      res.writeHead(403).end();
    });
    proxy.on('connect', (req: IncomingMessage, socket: Socket) => {
      proxied.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const http = await createHttpContext({
      env: { HTTP_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` },
      log: { debug() {} },
      transport: 'node',
    });
    cleanups.push(
      server.close,
      () => new Promise<void>((resolve) => proxy.close(() => resolve())),
      () => closeHttpContext(http),
    );
    await sendRequest(http, { method: 'GET', url: new URL('/via-proxy', server.url) }).catch(() => undefined);
    expect(proxied.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(0);
  });
});

describe('parseJson', () => {
  it('turns an HTML page into BoxApiError with status and BOX-REQUEST-ID, never a SyntaxError', async () => {
    const { server, http } = await setup([text(502, '<html>Bad gateway</html>', { 'box-request-id': 'abc123' })]);
    const res = await sendRequest(http, { method: 'GET', url: new URL('/x', server.url) });
    const err = (() => {
      try {
        parseJson(res);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BoxApiError);
    expect(err).toMatchObject({ status: 502, requestId: 'abc123', code: 'E_BOX_BAD_RESPONSE' });
    expect((err as Error).message).toContain('HTML');
  });

  it('rejects a JSON value that is not an object (garbage)', async () => {
    const { server, http } = await setup([text(200, '[1,2')]);
    const res = await sendRequest(http, { method: 'GET', url: new URL('/x', server.url) });
    expect(() => parseJson(res)).toThrow(BoxApiError);
  });
});

describe('retryAfterMs', () => {
  const res = (h: Record<string, string>) => ({
    status: 429,
    headers: h,
    text: '',
    requestId: undefined,
    label: 'GET /',
  });
  it('reads seconds from a lower-cased header and ignores junk', () => {
    expect(retryAfterMs(res({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(res({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(res({}))).toBeUndefined();
  });
});
