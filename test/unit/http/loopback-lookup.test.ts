/**
 * Issue 15 item 8 (transport half): plain http is for loopback only, and `localhost` is connected to loopback
 * without asking DNS (a resolver could answer anything, and would get the client secret in clear). Every
 * other name under .localhost is refused without a lookup.
 */
import dns from 'node:dns';
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext, NetworkError, sendRequest } from '../../../src/core/http/request.js';
import { loopbackLookup } from '../../../src/core/http/loopback-lookup.js';
import { json, startLocalServer } from './local-server.js';

const realLookup = dns.lookup;
const looked: string[] = [];
/** Records every name that reaches dns.lookup (what net.connect uses when no lookup is given). */
function spyOnDns(): void {
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    looked.push(hostname);
    return (realLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
  }) as typeof dns.lookup;
}
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  dns.lookup = realLookup;
  looked.length = 0;
  while (cleanups.length) await cleanups.pop()!();
});

function lookup(
  hostname: string,
  options: dns.LookupOptions,
): Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }> {
  return new Promise((resolve) => {
    loopbackLookup(hostname, options, (err, address, family) => resolve({ err, address, family }));
  });
}

describe('loopbackLookup', () => {
  it('answers localhost with the loopback addresses, IPv4 first, without DNS', async () => {
    spyOnDns();
    expect((await lookup('localhost', { all: true })).address).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(await lookup('localhost', {})).toMatchObject({ err: null, address: '127.0.0.1', family: 4 });
    expect(await lookup('LOCALHOST', { family: 6 })).toMatchObject({ err: null, address: '::1', family: 6 });
    expect((await lookup('localhost', { all: true, family: 4 })).address).toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
    expect(looked).toEqual([]);
  });

  it('refuses any other name under .localhost without DNS', async () => {
    spyOnDns();
    for (const name of ['evil.localhost', 'a.b.localhost', 'localhost.', 'x.localhost.']) {
      const { err } = await lookup(name, { all: true });
      expect(err?.code, name).toBe('ENOTFOUND');
      expect(err?.message).toContain('not looked up');
    }
    expect(looked).toEqual([]);
  });

  it('leaves every other name to the system resolver', async () => {
    spyOnDns();
    await lookup('nonexistent.invalid', {});
    expect(looked).toEqual(['nonexistent.invalid']);
  });
});

describe.each(['node', 'undici'] as const)('http://localhost over %s', (transport) => {
  it('connects to loopback without a DNS lookup', async () => {
    const server = await startLocalServer([json(200, { ok: true })]);
    const http = await createHttpContext({ env: {}, log: { debug() {} }, transport });
    cleanups.push(server.close, () => closeHttpContext(http));
    spyOnDns();
    const res = await sendRequest(http, {
      method: 'POST',
      url: new URL(`http://localhost:${server.url.port}/oauth2/token`),
      form: { a: 'b' },
    });
    expect(res.status).toBe(200);
    expect(looked).toEqual([]);
  });

  it('never looks up another *.localhost name: NetworkError, nothing sent', async () => {
    const http = await createHttpContext({ env: {}, log: { debug() {} }, transport });
    cleanups.push(() => closeHttpContext(http));
    spyOnDns();
    const err = await sendRequest(http, {
      method: 'POST',
      url: new URL('http://evil.localhost:9/oauth2/token'),
      form: { a: 'b' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).details?.requestSent).toBe(false);
    expect(looked).toEqual([]);
  });
});
