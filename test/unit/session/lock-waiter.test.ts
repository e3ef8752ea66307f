/**
 * A process waiting for a user's lock takes the holder's saved result as soon as it is durable, without
 * queueing for the lock (issue 8, lock storm): two file stores on one path stand for two processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpContext, closeHttpContext } from '../../../src/core/http/request.js';
import { getValidAccessToken, type Session } from '../../../src/core/session.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { makeStore, tempDir } from '../store/store-test-kit.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const EMAIL = 'a@x.com';
const pair = (n: number, expiresIn: number) => ({ accessToken: `AT${n}`, refreshToken: `RT${n}`, expiresIn });

describe('waiting for a user lock', () => {
  it('returns the token the holder saved while the holder still holds the lock, and never calls Box', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const holder = makeStore(t.dir).store;
    const waiter = makeStore(t.dir, { lockWaitMs: 20_000 }).store;
    const now = Date.now();
    // Stored access token already expired (expires_in 0): the waiter must get a new one.
    await holder.update((d) => saveUserTokens(d, EMAIL, pair(1, 0), undefined, now - 3_600_000));
    const http = await createHttpContext({ env: {}, log: { debug() {} } });
    cleanups.push(() => closeHttpContext(http));

    let waiting!: () => void;
    const waiterWaits = new Promise<void>((resolve) => (waiting = resolve));
    const session: Session = {
      store: waiter,
      http,
      apiBaseUrl: new URL('http://127.0.0.1:9/'), // a request here would fail the test
      credentials: () => ({ clientId: 'cid', clientSecret: 'sec' }),
      now: () => Date.now(),
      interrupts: { critical: (fn) => fn() },
      log: { debug() {} },
      pid: 4242,
      host: 'test-host',
      onLockWait: () => waiting(),
    };

    let waiterResult: Promise<unknown> | undefined;
    let answeredWhileHeld = false;
    await holder.withUserLock(EMAIL, async () => {
      waiterResult = getValidAccessToken(session, EMAIL);
      await waiterWaits;
      await holder.update((d) => saveUserTokens(d, EMAIL, pair(2, 3600), undefined, Date.now()));
      // Hold on until the waiter answers (or give up after 10 s, which fails the test below).
      answeredWhileHeld = await Promise.race([
        waiterResult.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
      ]);
    });
    await expect(waiterResult).resolves.toMatchObject({ accessToken: 'AT2', refreshed: false });
    expect(answeredWhileHeld).toBe(true);
  }, 30_000);
});
