import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server } from 'node:net';
import {
  startLoopbackListener,
  type LoopbackListener,
  type CallbackOutcome,
} from '../../../src/core/oauth/loopback-listener.js';
import { classifyCallback } from '../../../src/core/oauth/callback-params.js';
import { rawExchange } from '../../helpers/raw-socket.js';

const GOOD = 'good-state';
let listener: LoopbackListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

async function start(extra: { maxBadRequests?: number; uri?: string } = {}) {
  const accepted: URLSearchParams[] = [];
  listener = await startLoopbackListener({
    redirectUri: new URL(extra.uri ?? 'http://127.0.0.1:0/callback'),
    port: 0,
    maxBadRequests: extra.maxBadRequests,
    accept: (params) =>
      classifyCallback(params, async (s) => {
        if (s !== GOOD) throw new Error('bad');
        accepted.push(params);
      }),
  });
  const l = listener;
  const get = (path: string, host = `127.0.0.1:${l.port}`, method = 'GET') =>
    rawExchange(l.port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  return { l, get, accepted };
}

describe('loopback listener', () => {
  it('binds 127.0.0.1 only and reports the redirect URI with the bound port', async () => {
    const { l } = await start();
    expect(l.address).toBe('127.0.0.1');
    expect(l.redirectUri).toBe(`http://127.0.0.1:${l.port}/callback`);
    expect(l.port).toBeGreaterThan(0);
  });

  it('binds localhost as 127.0.0.1 and accepts the localhost Host header', async () => {
    const { l, get } = await start({ uri: 'http://localhost:0/callback' });
    expect(l.address).toBe('127.0.0.1');
    const wait = l.wait(new AbortController().signal);
    expect(await get(`/callback?code=c1&state=${GOOD}`, `localhost:${l.port}`)).toMatch(/^HTTP\/1.1 200/);
    expect(await wait).toEqual({ kind: 'code', code: 'c1' });
  });

  it('refuses hostile requests generically, keeps waiting, then takes the first valid callback', async () => {
    const { l, get } = await start();
    const wait = l.wait(new AbortController().signal);
    const payload = '<script>alert(1)</script>';
    const hostile: Array<[Promise<string>, RegExp]> = [
      [get('/callback?code=x&state=wrong'), /^HTTP\/1.1 400/],
      [get('/callback?code=x'), /^HTTP\/1.1 400/],
      [get(`/callback?error=access_denied&error_description=${encodeURIComponent(payload)}`), /^HTTP\/1.1 400/],
      [
        get(`/callback?error=access_denied&error_description=${encodeURIComponent(payload)}&state=bad`),
        /^HTTP\/1.1 400/,
      ],
      [get(`/other?code=x&state=${GOOD}`), /^HTTP\/1.1 404/],
      [get(`/callback?code=x&state=${GOOD}`, 'evil.example'), /^HTTP\/1.1 400/],
      [get(`/callback?code=x&state=${GOOD}`, `127.0.0.1:${l.port}`, 'POST'), /^HTTP\/1.1 405/],
      [get(`/callback?state=${GOOD}&q=${'A'.repeat(100 * 1024)}`), /^HTTP\/1.1 431/],
      [rawExchange(l.port, 'garbage\r\n\r\n'), /^HTTP\/1.1 400/],
    ];
    for (const [p, status] of hostile) {
      const reply = await p;
      expect(reply).toMatch(status);
      // Every answer, the raw ones Node's parser errors get included, carries the pages' security headers.
      const head = reply.slice(0, reply.indexOf('\r\n\r\n')).toLowerCase();
      for (const h of ['cache-control: no-store', 'x-content-type-options: nosniff', 'referrer-policy: no-referrer'])
        expect(head).toContain(h);
      expect(head).toMatch(/content-security-policy: default-src 'none'/);
      expect(reply).not.toContain(GOOD);
      expect(reply).not.toContain('<script>alert');
    }
    // A successful callback followed by a second request on the same keep-alive socket.
    const both = await rawExchange(
      l.port,
      `GET /callback?code=real&state=${GOOD} HTTP/1.1\r\nHost: 127.0.0.1:${l.port}\r\n\r\n` +
        `GET /callback?code=second&state=${GOOD} HTTP/1.1\r\nHost: 127.0.0.1:${l.port}\r\n\r\n`,
    );
    expect(both.match(/HTTP\/1.1 /g)).toHaveLength(1);
    expect(both).toMatch(/Connection: close/i);
    expect(both).toContain('You can close this tab');
    expect(await wait).toEqual({ kind: 'code', code: 'real' });
    await expect(get(`/callback?code=again&state=${GOOD}`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('honours error= only with a valid state', async () => {
    const { l, get } = await start();
    const wait = l.wait(new AbortController().signal);
    const reply = await get(`/callback?error=access_denied&error_description=%3Cscript%3E&state=${GOOD}`);
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    expect(reply).not.toContain('<script>&');
    expect(await wait).toEqual({ kind: 'error', error: 'access_denied' });
  });

  it('accepts a pasted URL through the same checks, first one wins', async () => {
    const { l } = await start();
    const wait = l.wait(new AbortController().signal);
    expect(await l.offer(new URLSearchParams('code=x&state=nope'))).toBe(false);
    expect(await l.offer(new URLSearchParams(`code=pasted&state=${GOOD}`))).toBe(true);
    expect(await wait).toEqual<CallbackOutcome>({ kind: 'code', code: 'pasted' });
    expect(await l.offer(new URLSearchParams(`code=late&state=${GOOD}`))).toBe(false);
  });

  it('stops after too many bad requests', async () => {
    const { l, get } = await start({ maxBadRequests: 3 });
    const wait = l.wait(new AbortController().signal);
    wait.catch(() => {});
    for (let i = 0; i < 3; i++) await get('/callback?state=bad&code=x');
    await expect(wait).rejects.toMatchObject({ code: 'E_CALLBACK_FLOOD', exitCode: 1 });
  });

  it('closes the port when the caller aborts', async () => {
    const { l, get } = await start();
    const ac = new AbortController();
    const wait = l.wait(ac.signal);
    ac.abort(new Error('timeout'));
    await expect(wait).rejects.toThrow('timeout');
    await expect(get('/callback')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('binds [::1] only (IPv6 only, no IPv4) for an [::1] redirect URI', async () => {
    const { l } = await start({ uri: 'http://[::1]:0/callback' });
    expect(l.address).toBe('::1');
    expect(l.redirectUri).toBe(`http://[::1]:${l.port}/callback`);
    await expect(rawExchange(l.port, 'GET / HTTP/1.1\r\n\r\n')).rejects.toThrow(/ECONNREFUSED/);
    const wait = l.wait(new AbortController().signal);
    const reply = await rawExchange(
      l.port,
      `GET /callback?code=v6&state=${GOOD} HTTP/1.1\r\nHost: [::1]:${l.port}\r\n\r\n`,
      '::1',
    );
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    expect(await wait).toEqual({ kind: 'code', code: 'v6' });
  });

  it('accepts exactly one of two valid callbacks arriving together', async () => {
    const { l, get } = await start();
    const wait = l.wait(new AbortController().signal);
    const replies = await Promise.all([
      get(`/callback?code=one&state=${GOOD}`),
      get(`/callback?code=two&state=${GOOD}`),
    ]);
    expect(replies.filter((r) => r.startsWith('HTTP/1.1 200'))).toHaveLength(1);
    const outcome = await wait;
    expect(['one', 'two']).toContain(outcome.kind === 'code' ? outcome.code : '');
  });

  it('cuts a slowloris client that never finishes its headers (headersTimeout)', async () => {
    const { l } = await start();
    const closed = await new Promise<string>((resolve) => {
      const s = connect({ port: l.port, host: '127.0.0.1' });
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
      s.write(`GET /callback?state=${GOOD} HTTP/1.1\r\nHost: 127.0.0.1:${l.port}\r\nX-Slow: `);
    });
    expect(closed).toMatch(/^(HTTP\/1.1 408|)/);
  }, 20_000);

  it('maps a taken port to a usage error naming --port', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        startLoopbackListener({
          redirectUri: new URL('http://127.0.0.1:1/callback'),
          port,
          accept: async () => undefined,
        }),
      ).rejects.toMatchObject({ code: 'E_PORT_IN_USE', exitCode: 2, hint: expect.stringContaining('--port') });
    } finally {
      blocker.close();
    }
  });

  // issue 15 item 14: on port 80 browsers send `Host: 127.0.0.1`, without the default port.
  it.for<[string, number | undefined, string]>([
    ['http://127.0.0.1/callback', undefined, '127.0.0.1'],
    ['http://127.0.0.1:53117/callback', 80, '127.0.0.1'],
    ['http://localhost/callback', undefined, 'localhost'],
    ['http://[::1]/callback', undefined, '[::1]'],
  ])(
    'on port 80 (%s, --port %s) accepts the Host without the port, as browsers send it',
    async ([uri, port, host], ctx) => {
      const address = host === '[::1]' ? '::1' : '127.0.0.1';
      try {
        listener = await startLoopbackListener({
          redirectUri: new URL(uri),
          port,
          accept: (params) =>
            classifyCallback(params, async (s) => {
              if (s !== GOOD) throw new Error('bad');
            }),
        });
      } catch (err) {
        if ((err as { code?: string }).code === 'E_PORT_IN_USE') return ctx.skip();
        throw err;
      }
      const l = listener;
      expect(l.port).toBe(80);
      expect(l.redirectUri).toBe(`http://${host}/callback`);
      const wait = l.wait(new AbortController().signal);
      const ask = (h: string, code: string) =>
        rawExchange(80, `GET /callback?code=${code}&state=${GOOD} HTTP/1.1\r\nHost: ${h}\r\n\r\n`, address);
      expect(await ask(`${host}:8080`, 'x')).toMatch(/^HTTP\/1.1 400/);
      expect(await ask(`${host}:080`, 'x')).toMatch(/^HTTP\/1.1 400/);
      expect(await ask(host, 'first')).toMatch(/^HTTP\/1.1 200/);
      expect(await wait).toEqual({ kind: 'code', code: 'first' });
    },
  );

  it('on port 80 also accepts the Host with the default port written (curl, some proxies)', async (ctx) => {
    try {
      listener = await startLoopbackListener({
        redirectUri: new URL('http://127.0.0.1/callback'),
        accept: (params) =>
          classifyCallback(params, async (s) => {
            if (s !== GOOD) throw new Error('bad');
          }),
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'E_PORT_IN_USE') return ctx.skip();
      throw err;
    }
    const wait = listener.wait(new AbortController().signal);
    expect(
      await rawExchange(80, `GET /callback?code=bare&state=${GOOD} HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n`),
    ).toMatch(/^HTTP\/1.1 200/);
    expect(await wait).toEqual({ kind: 'code', code: 'bare' });
  });

  it('on any other port, a Host without the port is still refused', async () => {
    const { l, get } = await start();
    const wait = l.wait(new AbortController().signal);
    expect(await get(`/callback?code=x&state=${GOOD}`, '127.0.0.1')).toMatch(/^HTTP\/1.1 400/);
    expect(await get(`/callback?code=x&state=${GOOD}`, `127.0.0.1:${l.port}.`)).toMatch(/^HTTP\/1.1 400/);
    expect(await get(`/callback?code=ok&state=${GOOD}`)).toMatch(/^HTTP\/1.1 200/);
    expect(await wait).toEqual({ kind: 'code', code: 'ok' });
  });
});
