/**
 * Issue 15 item 3: a deadline never discards an answer that has arrived, and every NetworkError says whether
 * the request may have reached the server (details.requestSent, interface A). Both transports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  closeHttpContext,
  createHttpContext,
  NetworkError,
  parseJson,
  sendRequest,
  type HttpContext,
} from '../../../src/core/http/request.js';
import { json, startLocalServer } from './local-server.js';
import { startPausingServer } from './paused-loop.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

type Transport = 'undici' | 'node';

async function context(
  transport: Transport,
  timeoutMs: number,
  log: (line: string) => void = () => {},
): Promise<HttpContext> {
  const http = await createHttpContext({ env: {}, log: { debug: log }, timeoutMs, transport });
  cleanups.push(() => closeHttpContext(http));
  return http;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe.each<Transport>(['node', 'undici'])('deadline over %s', (transport) => {
  it('returns an answer that arrived while the event loop was blocked past the deadline', async () => {
    // The server answers 50 ms after the request arrived; our loop is blocked for 1.5 s from that moment,
    // well past the 300 ms deadline. The answer is in the socket when the loop wakes: it must be read.
    const server = await startPausingServer({ replyAfterMs: 50, blockMs: 1_500 });
    cleanups.push(server.close);
    const http = await context(transport, 300);
    await sendRequest(http, { method: 'GET', url: new URL('/warm-up', server.url), timeoutMs: 10_000 });
    const res = await sendRequest(http, {
      method: 'POST',
      url: new URL('/oauth2/token', server.url),
      form: { grant_type: 'refresh_token' },
    });
    expect(res.status).toBe(200);
    expect(parseJson(res)).toEqual({ answered: '/oauth2/token' });
    expect(res.requestId).toBe('rid-paused');
  });

  it('reads to its end a body that is still arriving at the deadline', async () => {
    const parts = Array.from({ length: 12 }, (_, i) => `"p${i}":${i}`);
    const server = await startLocalServer((req) =>
      req.url === '/warm-up'
        ? json(200, {})
        : (_req, res) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.write('{');
            let i = 0;
            const drip = setInterval(() => {
              res.write(`${parts[i]}${i < parts.length - 1 ? ',' : ''}`);
              if (++i === parts.length) {
                clearInterval(drip);
                res.end('}');
              }
            }, 50);
          },
    );
    cleanups.push(server.close);
    const http = await context(transport, 400);
    await sendRequest(http, { method: 'GET', url: new URL('/warm-up', server.url), timeoutMs: 10_000 });
    // ~600 ms in all, past the 400 ms deadline, never silent for long: read whole.
    const res = await sendRequest(http, { method: 'GET', url: new URL('/drip', server.url) });
    expect(Object.keys(parseJson(res))).toHaveLength(12);
  });

  it('times out a server that never answers: requestSent true, and no claim that nothing was lost', async () => {
    const server = await startLocalServer([
      () => {
        /* never answers */
      },
    ]);
    cleanups.push(server.close);
    const http = await context(transport, 200);
    const err = await failure(
      sendRequest(http, { method: 'POST', url: new URL('/oauth2/token', server.url), form: { a: 'b' } }),
    );
    expect(err).toBeInstanceOf(NetworkError);
    const e = err as NetworkError;
    expect(e.code).toBe('E_NETWORK');
    expect(e.exitCode).toBe(75);
    expect(e.details?.requestSent).toBe(true);
    expect(e.message).toBe('POST /oauth2/token: no answer within 0.2 s (Box may have received it)');
    expect(`${e.message} ${e.hint}`).not.toMatch(/nothing was lost/);
  });

  it('gives up on an answer that stops arriving: requestSent true', async () => {
    const server = await startLocalServer([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"access_token":'); // and then silence
      },
    ]);
    cleanups.push(server.close);
    const http = await context(transport, 200);
    const started = Date.now();
    const err = await failure(
      sendRequest(http, { method: 'POST', url: new URL('/oauth2/token', server.url), form: { a: 'b' } }),
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).details?.requestSent).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a refused connection: requestSent false, nothing was lost', async () => {
    const server = await startLocalServer([]);
    const url = new URL('/oauth2/token', server.url);
    await server.close();
    const http = await context(transport, 2_000);
    const err = await failure(sendRequest(http, { method: 'POST', url, form: { a: 'b' } }));
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).details?.requestSent).toBe(false);
    expect((err as NetworkError).hint).toMatch(/nothing was lost/);
  });

  it('a name that does not resolve: requestSent false', async () => {
    const http = await context(transport, 5_000);
    const err = await failure(
      sendRequest(http, { method: 'POST', url: new URL('http://nonexistent.invalid/oauth2/token'), form: { a: 'b' } }),
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).details?.requestSent).toBe(false);
  });

  it('a connection reset after the request was written: requestSent true', async () => {
    const server = await startLocalServer([(_req, res) => res.socket?.destroy()]);
    cleanups.push(server.close);
    const http = await context(transport, 2_000);
    const err = await failure(
      sendRequest(http, { method: 'POST', url: new URL('/oauth2/token', server.url), form: { a: 'b' } }),
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).details?.requestSent).toBe(true);
    expect((err as NetworkError).hint ?? '').not.toMatch(/nothing was lost/);
  });

  it('a --debug logger that throws (full stderr) never turns an answer into a NetworkError', async () => {
    const server = await startLocalServer([json(200, { refresh_token: 'r' })]);
    cleanups.push(server.close);
    const http = await context(transport, 2_000, () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const res = await sendRequest(http, {
      method: 'POST',
      url: new URL('/oauth2/token', server.url),
      form: { a: 'b' },
    });
    expect(parseJson(res).refresh_token).toBe('r');
  });

  it('a --debug logger that throws leaves a network failure a NetworkError', async () => {
    const server = await startLocalServer([]);
    const url = new URL('/x', server.url);
    await server.close();
    const http = await context(transport, 2_000, () => {
      throw new Error('EPIPE');
    });
    expect(await failure(sendRequest(http, { method: 'GET', url }))).toBeInstanceOf(NetworkError);
  });
});
