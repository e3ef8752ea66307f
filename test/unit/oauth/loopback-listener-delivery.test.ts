/**
 * The accepted callback's page reaches the client, and shutting down never waits on a client.
 *
 * The e2e hostile test (connect-hostile) lost the success page about 1 run in 8: its real callback carries a
 * second request pipelined on the same socket, and both were checked concurrently. The state check is async
 * (jose over WebCrypto, on the thread pool), so the pipelined one sometimes finished first and was accepted;
 * HTTP/1.1 answers in order, so its page queued behind the first request's, which was still being checked
 * when wait() shut down and destroyed the socket. The client got no reply at all; the code was still used.
 * Here the first request's check is made slower on purpose, so that race goes the bad way every time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startLoopbackListener, type LoopbackListener } from '../../../src/core/oauth/loopback-listener.js';
import { classifyCallback } from '../../../src/core/oauth/callback-params.js';
import { rawExchange } from '../../helpers/raw-socket.js';

const GOOD = 'good-state';
const SLOW_CHECK_MS = 30;

let listener: LoopbackListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

/** A listener whose state check for `code=slow` takes SLOW_CHECK_MS; every other check is immediate. */
async function startWithSlowCheck() {
  const checked: string[] = [];
  listener = await startLoopbackListener({
    redirectUri: new URL('http://127.0.0.1:0/callback'),
    port: 0,
    accept: async (params) => {
      checked.push(params.get('code') ?? '');
      if (params.get('code') === 'slow') await new Promise((r) => setTimeout(r, SLOW_CHECK_MS));
      return classifyCallback(params, async (s) => {
        if (s !== GOOD) throw new Error('bad');
      });
    },
  });
  return { l: listener, checked };
}

function callback(port: number, code: string, state = GOOD): string {
  return `GET /callback?code=${code}&state=${state} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`;
}

/** Status line, Content-Length and a body of exactly that length: the whole response, not a prefix. */
function expectWholeResponse(reply: string, status: number, text: string): void {
  expect(reply).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
  expect(reply.match(/^HTTP\/1.1 /gm)).toHaveLength(1);
  const [head, body] = reply.split('\r\n\r\n', 2) as [string, string | undefined];
  const length = Number(/\r\nContent-Length: (\d+)\r\n/i.exec(`${head}\r\n`)?.[1]);
  expect(body?.length).toBe(length);
  expect(body).toContain(text);
}

describe('loopback listener: delivering the page', () => {
  it('accepts the first request on a socket, not one pipelined after it, and its whole page arrives', async () => {
    const { l, checked } = await startWithSlowCheck();
    const wait = l.wait(new AbortController().signal);
    const reply = rawExchange(l.port, callback(l.port, 'slow') + callback(l.port, 'pipelined'));
    // The caller's continuation runs as soon as wait() settles, as connect's does (close, then the exchange).
    const outcome = await wait;
    await l.close();
    expectWholeResponse(await reply, 200, 'You can close this tab');
    expect(outcome).toEqual({ kind: 'code', code: 'slow' });
    // A pipelined request is refused before its state is looked at: it could never be answered.
    expect(checked).toEqual(['slow']);
  });

  it('does not accept a valid callback pipelined behind a refused one', async () => {
    const { l, checked } = await startWithSlowCheck();
    const wait = l.wait(new AbortController().signal);
    const reply = await rawExchange(l.port, callback(l.port, 'slow', 'wrong') + callback(l.port, 'pipelined'));
    expectWholeResponse(reply, 400, 'This request was not accepted');
    expect(checked).toEqual(['slow']);
    // Still waiting: a separate, well-behaved callback is the one that counts.
    expectWholeResponse(await rawExchange(l.port, callback(l.port, 'real')), 200, 'You can close this tab');
    expect(await wait).toEqual({ kind: 'code', code: 'real' });
  });

  it('answers the first request with its page although unparsable bytes follow it on the socket', async () => {
    const { l } = await startWithSlowCheck();
    const wait = l.wait(new AbortController().signal);
    // A TLS hello after the callback: the parser fails on it while the callback is still being checked.
    const reply = rawExchange(l.port, `${callback(l.port, 'slow')}\x16\x03\x01junk\r\n\r\n`);
    expect(await wait).toEqual({ kind: 'code', code: 'slow' });
    await l.close();
    expectWholeResponse(await reply, 200, 'You can close this tab');
  });

  it('shuts down within a second although the accepted client never reads and another sits idle', async () => {
    const { l } = await startWithSlowCheck();
    const wait = l.wait(new AbortController().signal);
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect({ port: l.port, host: '127.0.0.1' }, () => resolve(s));
        s.on('error', () => {});
      });
    const idle = await open();
    const deaf = await open();
    deaf.pause();
    const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
    const bothClosed = Promise.all([closed(idle), closed(deaf)]);
    deaf.write(callback(l.port, 'deaf'));
    const started = Date.now();
    expect(await wait).toEqual({ kind: 'code', code: 'deaf' });
    await l.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    // The listener let go of both sockets itself: neither client closed its end.
    deaf.resume();
    await bothClosed;
  });
});
