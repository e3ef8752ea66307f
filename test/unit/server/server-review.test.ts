/**
 * `serve`'s listener under its review's findings (issue 17): CONNECT gets a 405 with the security headers and
 * a log line (Node closed the socket silently); two Host headers are a 400 (Node keeps the first, a proxy may
 * keep the last); the server caps open sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { raw, startTestServer, statusOf, type TestServer } from './helpers.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.shutdown(1000);
  t = undefined;
});

describe('serve listener, review findings', () => {
  it('CONNECT is answered 405 with the security headers, and logged', async () => {
    t = await startTestServer();
    const got = await raw(t.port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 500);
    expect(statusOf(got)).toBe(405);
    expect(got).toMatch(/Referrer-Policy: no-referrer/i);
    expect(t.logs.some((l) => l.startsWith('CONNECT - 405'))).toBe(true);
  });

  it('two Host headers are a 400, whatever their order', async () => {
    t = await startTestServer();
    for (const hosts of [
      ['127.0.0.1', 'evil.example'],
      ['evil.example', '127.0.0.1'],
    ]) {
      const got = await raw(t.port, `GET /healthz HTTP/1.1\r\nHost: ${hosts[0]}\r\nHost: ${hosts[1]}\r\n\r\n`, 500);
      expect(statusOf(got)).toBe(400);
    }
  });

  it('caps the open sockets: past maxConnections a new socket is closed, not left to exhaust descriptors', async () => {
    t = await startTestServer({}, { maxConnections: 2 });
    const idle = [connect(t.port, '127.0.0.1'), connect(t.port, '127.0.0.1')];
    await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
    await new Promise((r) => setTimeout(r, 100));
    try {
      const got = await raw(t.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`, 500);
      expect(got).toBe('');
    } finally {
      for (const s of idle) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const after = await raw(t.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`, 500);
    expect(statusOf(after)).toBe(200);
  });

  it('every access-log line has a method, a route (the pattern of a known path, else -), a status and milliseconds', async () => {
    t = await startTestServer();
    const host = `Host: 127.0.0.1:${t.port}`;
    const sends = [
      [`POST /callback?code=c&state=s HTTP/1.1\r\n${host}\r\nContent-Length: 0\r\n\r\n`, 405],
      [`GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n`, 421],
      [`DELETE /connect/SECRETTOKEN123 HTTP/1.1\r\n${host}\r\n\r\n`, 405],
      [`GET /nowhere/SECRETTOKEN123 HTTP/1.1\r\n${host}\r\n\r\n`, 404],
      [`GET /healthz HTTP/1.1\r\n${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
    ] as const;
    for (const [req, status] of sends) expect(statusOf(await raw(t.port, req, 500))).toBe(status);
    await new Promise((r) => setTimeout(r, 50));
    const lines = t.logs.filter((l) => / \d{3} /.test(l));
    expect(lines).toEqual([
      expect.stringMatching(/^POST \/callback 405 \d+ms$/),
      expect.stringMatching(/^GET \/healthz 421 \d+ms$/),
      expect.stringMatching(/^DELETE \/connect\/:token 405 \d+ms$/),
      expect.stringMatching(/^GET - 404 \d+ms$/),
      expect.stringMatching(/^- - 431 \d+ms$/),
      expect.stringMatching(/^- - 400 \d+ms$/),
    ]);
    expect(t.logs.join('\n')).not.toContain('SECRETTOKEN123');
  });
});
