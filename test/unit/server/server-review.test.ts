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
});
