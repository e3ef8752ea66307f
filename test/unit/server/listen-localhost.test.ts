/**
 * `--listen localhost:<port>` (issue 17): a browser may resolve localhost to ::1 before 127.0.0.1, so serve binds
 * both loopbacks on the port. Bound on 127.0.0.1 alone, any local process could listen on [::1]:<port> and be
 * sent the invite links and callbacks meant for serve (review of the localhost listen, finding 3): that port taken
 * on ::1 is an error, as on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server } from 'node:net';
import { startServer, type RunningServer } from '../../../src/server/http-server.js';
import { fakeFlow } from './helpers.js';

let running: RunningServer | undefined;
const others: Server[] = [];
afterEach(async () => {
  await running?.shutdown(1000);
  running = undefined;
  for (const s of others.splice(0)) s.close();
});

const start = (port: number, limits = {}) =>
  startServer(
    { flow: fakeFlow(), healthy: async () => true, publicUrl: new URL(`http://localhost:${port}`), log: () => {} },
    { listen: { host: '127.0.0.1', port, name: 'localhost' }, limits },
  );

function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let got = '';
    s.on('connect', () => s.write(`GET /healthz HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

const listenOn = (host: string, port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port, ipv6Only: host.includes(':') }, () => resolve(s));
  });

const ipv6 = await listenOn('::1', 0).then(
  (s) => (s.close(), true),
  () => false,
);

describe.skipIf(!ipv6)('serve --listen localhost', () => {
  it('answers on 127.0.0.1 and ::1 at the same port, also when the port was 0', async () => {
    running = await start(0);
    const port = running.address.port;
    expect(await get('127.0.0.1', port)).toMatch(/^HTTP\/1\.1 200/);
    expect(await get('::1', port)).toMatch(/^HTTP\/1\.1 200/);
    await running.shutdown(1000);
    running = undefined;
    // Both are closed by the shutdown.
    await expect(get('::1', port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('refuses to start when another program holds the port on ::1 (it would get the links)', async () => {
    const squatter = await listenOn('::1', 0);
    others.push(squatter);
    const port = (squatter.address() as { port: number }).port;
    await expect(start(port)).rejects.toThrow(/cannot listen on \[::1\]:\d+: the address is already in use/);
    // Nothing is left listening on 127.0.0.1.
    await expect(get('127.0.0.1', port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('caps the open sockets over both addresses together, not each', async () => {
    running = await start(0, { maxConnections: 2 });
    const port = running.address.port;
    const idle = [connect(port, '127.0.0.1'), connect(port, '::1')];
    await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
    await new Promise((r) => setTimeout(r, 100));
    try {
      // A third socket, on either address, is closed unanswered.
      for (const host of ['::1', '127.0.0.1']) expect(await get(host, port).catch(() => '')).toBe('');
    } finally {
      for (const s of idle) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(await get('::1', port)).toMatch(/^HTTP\/1\.1 200/);
  });
});
