import { afterEach, describe, expect, it } from 'vitest';
import { createHttpContext, closeHttpContext, NetworkError, parseJson, retryAfterMs, sendRequest, type HttpContext } from '../../../src/core/http.js';
import { BoxApiError } from '../../../src/errors.js';
import { VERSION } from '../../../src/version.js';
import { json, startLocalServer, text } from './local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(replies: Parameters<typeof startLocalServer>[0], opts: { timeoutMs?: number } = {}) {
  const server = await startLocalServer(replies);
  const lines: string[] = [];
  const http = await createHttpContext({ env: {}, log: { debug: (l) => lines.push(l) }, ...opts });
  cleanups.push(server.close, () => closeHttpContext(http));
  return { server, http, lines };
}

describe('sendRequest', () => {
  it('sends User-Agent box-qc/<version> and form bodies', async () => {
    const { server, http } = await setup([json(200, { ok: true })]);
    await sendRequest(http, { method: 'POST', url: new URL('/oauth2/token', server.url), form: { grant_type: 'x', a: 'b c' } });
    expect(server.requests[0]!.headers['user-agent']).toBe(`box-qc/${VERSION}`);
    expect(server.requests[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(server.requests[0]!.body).toBe('grant_type=x&a=b+c');
  });

  it('logs method, path, status and request id but never the query, body or Authorization', async () => {
    const { server, http, lines } = await setup([json(200, {}, { 'box-request-id': 'rid-1' })]);
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
    const { server, http } = await setup([]);
    const url = new URL('/x', server.url);
    await server.close();
    const err = await sendRequest(http, { method: 'GET', url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).exitCode).toBe(75);
  });

  it('turns a request that exceeds the timeout into a NetworkError', async () => {
    const { server, http } = await setup([() => { /* never answers */ }], { timeoutMs: 200 });
    const err = await sendRequest(http, { method: 'GET', url: new URL('/slow', server.url) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toContain('timed out');
  });

  it('rethrows the caller abort instead of calling it a network failure', async () => {
    const server = await startLocalServer([() => {}]);
    const controller = new AbortController();
    const http: HttpContext = await createHttpContext({ env: {}, log: { debug() {} }, signal: controller.signal });
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
    });
    cleanups.push(server.close, () => closeHttpContext(http));
    const res = await sendRequest(http, { method: 'GET', url: new URL('/', server.url) });
    expect(res.status).toBe(200);
  });
});

describe('parseJson', () => {
  it('turns an HTML page into BoxApiError with status and BOX-REQUEST-ID, never a SyntaxError', async () => {
    const { server, http } = await setup([text(502, '<html>Bad gateway</html>', { 'box-request-id': 'abc123' })]);
    const res = await sendRequest(http, { method: 'GET', url: new URL('/x', server.url) });
    const err = (() => { try { parseJson(res); } catch (e) { return e; } })();
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
  const res = (h: Record<string, string>) => ({ status: 429, headers: h, text: '', requestId: undefined, label: 'GET /' });
  it('reads seconds from a lower-cased header and ignores junk', () => {
    expect(retryAfterMs(res({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(res({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(res({}))).toBeUndefined();
  });
});
