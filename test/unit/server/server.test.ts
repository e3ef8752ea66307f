/**
 * The serve HTTP edge (issue 17) with a fake invite flow: routes, statuses, the security headers on every
 * response, the Host check, the limits, escaping, and an access log that never carries a query or a token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { get, headerOf, raw, startTestServer, statusOf, type TestServer } from './helpers.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.shutdown(1000);
  t = undefined;
});

function expectSecurityHeaders(response: string): void {
  expect(headerOf(response, 'Cache-Control'), response).toBe('no-store');
  expect(headerOf(response, 'Referrer-Policy')).toBe('no-referrer');
  expect(headerOf(response, 'X-Content-Type-Options')).toBe('nosniff');
  const csp = headerOf(response, 'Content-Security-Policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('script-src');
}

describe('routes', () => {
  it('GET /connect/<token> redirects with 302 for a usable link', async () => {
    t = await startTestServer();
    const r = await get(t.port, '/connect/good-token');
    expect(statusOf(r), r).toBe(302);
    expect(headerOf(r, 'Location')).toBe('https://box.example/authorize?state=s1');
    expectSecurityHeaders(r);
    expect(t.flow.starts).toEqual(['good-token']);
  });

  it('also under the public URL path prefix (a proxy that does not strip it)', async () => {
    t = await startTestServer();
    const r = await get(t.port, '/box-qc/connect/good-token', 'qc.example.com');
    expect(statusOf(r), r).toBe(302);
  });

  it('an unusable link is 410 with one generic page; a malformed token never reaches the flow', async () => {
    t = await startTestServer();
    const unknown = await get(t.port, '/connect/unknown-token');
    const odd = await get(t.port, '/connect/%3Cscript%3E');
    for (const r of [unknown, odd]) {
      expect(statusOf(r), r).toBe(410);
      expect(r).toContain('This link cannot be used; ask for a new link');
      expectSecurityHeaders(r);
    }
    expect(unknown.split('\r\n\r\n')[1]).toBe(odd.split('\r\n\r\n')[1]);
    expect(t.flow.starts).toEqual(['unknown-token']);
  });

  it('the callback: connected 200 escaped, denied 403, bad state 400, failed 502', async () => {
    t = await startTestServer();
    const ok = await get(t.port, '/callback?code=c&state=good-state');
    expect(statusOf(ok), ok).toBe(200);
    expect(ok).toContain('Connected al&#60;i&#62;ce@example.com to Box as alice@box&#34;example&#34;.com');
    expectSecurityHeaders(ok);
    const denied = await get(t.port, '/callback?error=access_denied&state=good-state');
    expect(statusOf(denied)).toBe(403);
    expect(denied).toContain('access was not granted');
    expect(statusOf(await get(t.port, '/callback?code=c&state=forged'))).toBe(400);
    const failed = await get(t.port, '/callback?code=fail&state=good-state');
    expect(statusOf(failed)).toBe(502);
    expect(failed).toContain('Box said &#60;no&#62; &#38; &#34;why&#34;');
    expect(failed).not.toContain('<no>');
  });

  it('/healthz is 200 ok while the store reads, 503 when it does not', async () => {
    let healthy = true;
    t = await startTestServer({ healthy: async () => healthy });
    const ok = await get(t.port, '/healthz');
    expect(statusOf(ok)).toBe(200);
    expect(ok.split('\r\n\r\n')[1]).toBe('ok\n');
    healthy = false;
    expect(statusOf(await get(t.port, '/healthz'))).toBe(503);
  });

  it('HEAD is GET without a body', async () => {
    t = await startTestServer();
    const r = await raw(t.port, `HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nConnection: close\r\n\r\n`);
    expect(statusOf(r)).toBe(200);
    expect(r.split('\r\n\r\n')[1]).toBe('');
    expectSecurityHeaders(r);
  });

  it('anything else is 404; other methods 405 with Allow; all with the security headers', async () => {
    t = await startTestServer();
    const nf = await get(t.port, '/nope');
    expect(statusOf(nf)).toBe(404);
    expectSecurityHeaders(nf);
    const post = await raw(
      t.port,
      `POST /callback HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
    );
    expect(statusOf(post), post).toBe(405);
    expect(headerOf(post, 'Allow')).toBe('GET, HEAD');
    expectSecurityHeaders(post);
    expect(t.flow.finishes).toEqual([]);
  });

  it('a handler that throws is a generic 500, one log line, no detail; the server keeps serving', async () => {
    t = await startTestServer();
    const r = await get(t.port, '/connect/boom-token');
    expect(statusOf(r)).toBe(500);
    expectSecurityHeaders(r);
    expect(r).not.toContain('secret-detail');
    expect(t.logs.filter((l) => l.includes('500'))).toHaveLength(1);
    expect(t.logs.join('\n')).not.toContain('secret-detail');
    expect(t.logs.at(-1)).toMatch(/^GET \/connect\/:token 500 \d+ms \(internal error\)$/);
    expect(statusOf(await get(t.port, '/connect/busy-token'))).toBe(500);
    expect(t.logs.at(-1)).toMatch(/^GET \/connect\/:token 500 \d+ms \(error E_STORE_BUSY\)$/);
    expect(t.logs.join('\n')).not.toContain('secret-detail');
    expect(statusOf(await get(t.port, '/healthz'))).toBe(200);
  });
});

describe('metrics', () => {
  it('404 without a renderer; on the listen Host only; a token when configured', async () => {
    t = await startTestServer();
    expect(statusOf(await get(t.port, '/metrics'))).toBe(404);
    await t.server.shutdown(1000);
    t = await startTestServer({ metrics: async () => 'box_qc_up 1\n', metricsToken: 'm-token' });
    expect(statusOf(await get(t.port, '/metrics', 'qc.example.com'))).toBe(404);
    const noAuth = await get(t.port, '/metrics');
    expect(statusOf(noAuth)).toBe(401);
    expectSecurityHeaders(noAuth);
    expect(statusOf(await get(t.port, '/metrics', undefined, 'Authorization: Bearer wrong\r\n'))).toBe(401);
    const ok = await get(t.port, '/metrics', undefined, 'Authorization: Bearer m-token\r\n');
    expect(statusOf(ok)).toBe(200);
    expect(ok).toContain('box_qc_up 1');
  });
});

describe('Host check', () => {
  it('421 for a Host that is neither the public host nor the listen address', async () => {
    t = await startTestServer();
    for (const host of ['evil.example', 'qc.example.com.evil', `localhost:${t.port}`, '127.0.0.1:1']) {
      const r = await get(t.port, '/healthz', host);
      expect(statusOf(r), host).toBe(421);
      expectSecurityHeaders(r);
    }
    expect(statusOf(await get(t.port, '/healthz', 'QC.example.com'))).toBe(200);
    expect(statusOf(await get(t.port, '/healthz', 'qc.example.com:443'))).toBe(200);
    expect(t.flow.starts).toEqual([]);
  });
});

describe('limits', () => {
  it('a URL over 2 KiB is 414', async () => {
    t = await startTestServer();
    const r = await get(t.port, `/connect/${'a'.repeat(3000)}`);
    expect(statusOf(r)).toBe(414);
    expectSecurityHeaders(r);
    expect(t.flow.starts).toEqual([]);
  });

  it('oversized headers are 431 with the security headers', async () => {
    t = await startTestServer();
    const r = await get(t.port, '/healthz', undefined, `X-Big: ${'b'.repeat(20_000)}\r\n`);
    expect(statusOf(r), r).toBe(431);
    expectSecurityHeaders(r);
  });

  it('a client sending its headers slowly is cut off by headersTimeout', async () => {
    t = await startTestServer({}, { headersTimeoutMs: 300, requestTimeoutMs: 300, connectionsCheckingIntervalMs: 50 });
    const port = t.port;
    const outcome = await new Promise<{ data: string; closed: boolean }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 100);
      socket.on('connect', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`));
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => {
        clearInterval(drip);
        resolve({ data, closed: true });
      });
      socket.on('error', () => {});
    });
    expect(outcome.closed).toBe(true);
    expect(statusOf(outcome.data)).toBe(408);
  });

  it('a connection that never sends a request is closed by the same timeout', async () => {
    t = await startTestServer({}, { headersTimeoutMs: 300, requestTimeoutMs: 300, connectionsCheckingIntervalMs: 50 });
    const port = t.port;
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('close', () => resolve(true));
      socket.on('error', () => {});
      socket.resume();
    });
    expect(closed).toBe(true);
  });

  it('a connection is closed after maxRequestsPerSocket (never the bare 503 of Node past it)', async () => {
    t = await startTestServer({}, { maxRequestsPerSocket: 2 });
    const req = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`;
    const r = await raw(t.port, req + req + req, 500);
    const answers = r.split(/(?=HTTP\/1\.1 )/);
    expect(answers.map(statusOf)).toEqual([200, 200]);
    expect(headerOf(answers[1]!, 'Connection')).toBe('close');
    for (const a of answers) expectSecurityHeaders(a);
  });

  it('1,000 bad requests, then a good one still works', async () => {
    t = await startTestServer();
    const bad = [
      'GARBAGE\r\n\r\n',
      `GET /callback?state=x HTTP/1.1\r\nHost: evil\r\n\r\n`,
      `GET ${'/x'.repeat(2000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
      `DELETE / HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`,
      `GET /connect/%00%ff HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nConnection: close\r\n\r\n`,
    ];
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => raw(t!.port, bad[(i + j) % bad.length]!, 300)));
    }
    const ok = await get(t.port, '/connect/good-token');
    expect(statusOf(ok)).toBe(302);
  });
});

describe('escaping and the access log', () => {
  it('reflects nothing from the path, query or Host unescaped', async () => {
    t = await startTestServer();
    const hostile = '<script>alert(1)</script>';
    const rs = [
      await get(t.port, `/connect/${encodeURIComponent(hostile)}`),
      await get(t.port, `/callback?code=${encodeURIComponent(hostile)}&state=${encodeURIComponent(hostile)}`),
      await get(t.port, '/healthz', 'x<script>'),
      await get(t.port, `/${encodeURIComponent(hostile)}`),
    ];
    for (const r of rs) {
      expect(r).not.toContain('<script');
      expect(r).not.toContain('alert(1)');
    }
  });

  it('one line per request: method, route pattern, status, ms; never a query, token, code or state', async () => {
    t = await startTestServer();
    await get(t.port, '/connect/good-token');
    await get(t.port, '/callback?code=secret-code&state=good-state');
    await get(t.port, '/callback?code=c2&state=forged-state');
    await get(t.port, '/nope?q=1');
    await get(t.port, '/connect/x', '\x1b[31mhost');
    expect(t.logs).toHaveLength(5);
    expect(t.logs[0]).toMatch(/^GET \/connect\/:token 302 \d+ms$/);
    expect(t.logs[1]).toMatch(/^GET \/callback 200 \d+ms$/);
    expect(t.logs[2]).toMatch(/^GET \/callback 400 \d+ms$/);
    const all = t.logs.join('\n');
    for (const s of ['good-token', 'secret-code', 'good-state', 'forged-state', 'q=1', '?', '\x1b']) {
      expect(all).not.toContain(s);
    }
  });
});

describe('shutdown', () => {
  it('lets an in-flight callback finish, then closes', async () => {
    t = await startTestServer();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const finish = t.flow.finish;
    t.flow.finish = async (q) => {
      await gate;
      return finish(q);
    };
    const pending = get(t.port, '/callback?code=c&state=good-state');
    while (t.server.inFlight() === 0) await new Promise((r) => setTimeout(r, 5));
    const stopping = t.server.shutdown(5000);
    release();
    const r = await pending;
    expect(statusOf(r)).toBe(200);
    expect(await stopping).toEqual({ drained: true });
    t = undefined;
  });
});
