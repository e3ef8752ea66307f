// core/http never sets V8 flags itself (issue 16 item 5): the CLI's one V8 flag for undici runs through the
// beforeUndiciLoads hook, once, before undici's first request, and only when undici is the transport.
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext, sendRequest } from '../../../src/core/http/request.js';
import { json, startLocalServer } from './local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('HttpContextOptions.beforeUndiciLoads', () => {
  it('runs once, before the first request through undici', async () => {
    const server = await startLocalServer([json(200, { n: 1 }), json(200, { n: 2 })]);
    const events: string[] = [];
    const http = await createHttpContext({
      env: {},
      log: { debug() {} },
      transport: 'undici',
      beforeUndiciLoads: async () => {
        events.push(`hook (requests so far: ${server.requests.length})`);
      },
    });
    cleanups.push(server.close, () => closeHttpContext(http));
    expect(events).toEqual([]);
    await sendRequest(http, { method: 'GET', url: new URL('/a', server.url) });
    await sendRequest(http, { method: 'GET', url: new URL('/b', server.url) });
    expect(events).toEqual(['hook (requests so far: 0)']);
    expect(server.requests).toHaveLength(2);
  });

  it('is never called when requests go through node:http', async () => {
    const server = await startLocalServer([json(200, { ok: true })]);
    let calls = 0;
    const http = await createHttpContext({
      env: {},
      log: { debug() {} },
      beforeUndiciLoads: async () => {
        calls += 1;
      },
    });
    cleanups.push(server.close, () => closeHttpContext(http));
    await sendRequest(http, { method: 'GET', url: new URL('/a', server.url) });
    expect(calls).toBe(0);
  });
});
