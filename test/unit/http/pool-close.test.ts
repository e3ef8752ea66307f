/**
 * Closing the pool never cuts a refresh between its POST and its save (REVIEW-1 finding 5b): close() waits
 * for POSTs in flight (each bounded by its own deadline) and destroys only idle sockets and GETs in flight
 * (the page `ls` prefetched, which nobody wants any more).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext, NetworkError, sendRequest } from '../../../src/core/http/request.js';
import { json, startLocalServer, type Reply } from './local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const later =
  (ms: number, reply: Reply): Reply =>
  (req, res) =>
    void setTimeout(() => reply(req, res), ms);
const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe.each(['node', 'undici'] as const)('pool.close() over %s', (transport) => {
  it('lets a POST in flight finish: the answer the server sends after close() arrives', async () => {
    const server = await startLocalServer([later(400, json(200, { refresh_token: 'rt-new' }))]);
    const http = await createHttpContext({ env: {}, log: { debug: () => {} }, transport, timeoutMs: 5000 });
    cleanups.push(server.close, () => closeHttpContext(http));
    const post = settle(
      sendRequest(http, {
        method: 'POST',
        url: new URL('/oauth2/token', server.url),
        form: { grant_type: 'refresh_token' },
      }),
    );
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const closed = closeHttpContext(http);
    const r = await post;
    expect(r.ok ? JSON.parse(r.value.text) : r.error).toEqual({ refresh_token: 'rt-new' });
    await closed;
  });

  it('does not wait for a GET in flight: it fails at once with E_POOL_CLOSED (not a NetworkError to retry)', async () => {
    const server = await startLocalServer([later(3000, json(200, { entries: [] }))]);
    const http = await createHttpContext({ env: {}, log: { debug: () => {} }, transport, timeoutMs: 10_000 });
    cleanups.push(server.close, () => closeHttpContext(http));
    const get = settle(sendRequest(http, { method: 'GET', url: new URL('/2.0/folders/0/items', server.url) }));
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await closeHttpContext(http);
    const r = await get;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error).not.toBeInstanceOf(NetworkError);
    expect(r.ok ? undefined : r.error).toMatchObject({ code: 'E_POOL_CLOSED' });
  });

  it('waits for the POST while the GET beside it is cut', async () => {
    const server = await startLocalServer((req) =>
      req.method === 'POST' ? later(400, json(200, { ok: 'post' })) : later(3000, json(200, { ok: 'get' })),
    );
    const http = await createHttpContext({ env: {}, log: { debug: () => {} }, transport, timeoutMs: 10_000 });
    cleanups.push(server.close, () => closeHttpContext(http));
    const get = settle(sendRequest(http, { method: 'GET', url: new URL('/a', server.url) }));
    const post = settle(
      sendRequest(http, { method: 'POST', url: new URL('/oauth2/token', server.url), form: { a: 'b' } }),
    );
    while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 10));
    await closeHttpContext(http);
    const [g, p] = await Promise.all([get, post]);
    expect(g.ok).toBe(false);
    expect(p.ok ? JSON.parse(p.value.text) : p.error).toEqual({ ok: 'post' });
  });
});

describe('a GET cut by close() is not retried', () => {
  it('boxGet gives up at once instead of sending the request again after the pool closed', async () => {
    const { boxGet } = await import('../../../src/core/box/request.js');
    const server = await startLocalServer(() => later(3000, json(200, { entries: [] })));
    const http = await createHttpContext({ env: {}, log: { debug: () => {} }, timeoutMs: 10_000 });
    cleanups.push(server.close, () => closeHttpContext(http));
    const get = settle(
      boxGet(
        { http, apiBaseUrl: server.url, retry: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 100 } },
        '/2.0/folders/0/items',
        {},
        { get: async () => 'at' },
      ),
    );
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await closeHttpContext(http);
    const r = await get;
    await new Promise((r) => setTimeout(r, 300)); // past any backoff: a retry would have reached the server
    expect(r.ok ? undefined : r.error).toMatchObject({ code: 'E_POOL_CLOSED' });
    expect(server.requests).toHaveLength(1);
  });
});
