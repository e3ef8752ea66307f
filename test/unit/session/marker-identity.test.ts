/**
 * REVIEW-2 findings 4 and 5: whose marker it is, and how young. (5) Old code called a marker "our own,
 * replay at once" when pid and host matched, and "dead, replay at once" when that pid was not alive here:
 * two containers sharing a host name, both pid 1, double-spent. Now a per-process nonce decides "own", and a
 * marker from another PID namespace (or without one) counts as alive. (4) The owner records its bound, so a
 * waiter configured shorter still waits it out; and `since` is only trusted when the marker write was quick:
 * a slower write ends the refresh with nothing sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import type { RefreshInFlight } from '../../../src/core/store/types.js';
import { EMAIL, NOW, grantsSent, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ID = { nonce: 'our-nonce', pidNs: 'pid:[4026531836]' };
const marker = (over: Partial<RefreshInFlight>): RefreshInFlight => ({
  since: formatTimestamp(NOW - 1000),
  pid: 4242,
  host: 'test-host',
  generation: 3,
  ...over,
});

describe('the in-flight marker names its owner process exactly (REVIEW-2 #5)', () => {
  it('same pid and host name but another nonce (another container, both pid 1): waited for, not replayed', async () => {
    const { server, session } = await sessionKit(
      user({ refresh_in_flight: marker({ nonce: 'their-nonce', pid_ns: ID.pidNs }) }),
      [pair(2)],
      cleanups,
      { markerIdentity: ID },
    );
    const got = getValidAccessToken(session, EMAIL, { force: true });
    await sleep(400);
    expect(server.requests).toHaveLength(0);
    void got.catch(() => undefined);
  });

  it('a dead pid in another PID namespace on this host counts as alive: waited for', async () => {
    const m = marker({ pid: 777, nonce: 'their-nonce', pid_ns: 'pid:[4026532999]' });
    const { server, session } = await sessionKit(user({ refresh_in_flight: m }), [pair(2)], cleanups, {
      markerIdentity: ID,
      isPidAlive: () => false,
    });
    const got = getValidAccessToken(session, EMAIL, { force: true });
    await sleep(400);
    expect(server.requests).toHaveLength(0);
    void got.catch(() => undefined);
  });

  it('our own nonce, or a dead pid in our namespace: replayed at once', async () => {
    const own = await sessionKit(
      user({ refresh_in_flight: marker({ nonce: ID.nonce, pid_ns: ID.pidNs }) }),
      [pair(2)],
      cleanups,
      { markerIdentity: ID },
    );
    await expect(getValidAccessToken(own.session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
    const m = marker({ pid: 777, nonce: 'their-nonce', pid_ns: ID.pidNs });
    const dead = await sessionKit(user({ refresh_in_flight: m }), [pair(2)], cleanups, {
      markerIdentity: ID,
      isPidAlive: () => false,
    });
    await expect(getValidAccessToken(dead.session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
  });

  it('the marker written before the POST carries the nonce, the PID namespace and the owner bound', async () => {
    let seen: RefreshInFlight | undefined;
    const kit: Awaited<ReturnType<typeof sessionKit>> | undefined = await sessionKit(
      user(),
      () => (req, res) => {
        seen = kit!.store.doc.users[EMAIL]!.refresh_in_flight;
        pair(2)(req, res);
      },
      cleanups,
      { markerIdentity: ID, saveBudgetMs: 1000 },
    );
    await getValidAccessToken(kit.session, EMAIL, { force: true });
    expect(seen).toMatchObject({
      pid: 4242,
      host: 'test-host',
      nonce: ID.nonce,
      pid_ns: ID.pidNs,
      bound_ms: 5000 + 1000 + 15_000,
    });
  });
});

describe('the marker age (REVIEW-2 #4)', () => {
  it("a waiter with a shorter bound uses the owner's recorded bound", async () => {
    // Ours: 5 s + 1 s + 15 s = 21 s. The owner's: 120 s. Age 30 s: past ours, well within theirs.
    const m = marker({
      since: formatTimestamp(NOW - 30_000),
      pid: 777,
      host: 'other-host',
      nonce: 'x',
      bound_ms: 120_000,
    });
    const { server, session } = await sessionKit(user({ refresh_in_flight: m }), [pair(2)], cleanups, {
      markerIdentity: ID,
      saveBudgetMs: 1000,
    });
    const got = getValidAccessToken(session, EMAIL, { force: true });
    await sleep(400);
    expect(server.requests).toHaveLength(0);
    void got.catch(() => undefined);
  });

  it('a marker write once slow: written again with a fresh since, then sent', async () => {
    const { server, store, session, clock } = await sessionKit(user(), [pair(2)], cleanups, {
      markerIdentity: ID,
      maxMarkerWriteMs: 50,
    });
    const update = store.update.bind(store);
    const stamps: Array<string | undefined> = [];
    let n = 0;
    store.update = async (mutate, opts) => {
      if (n++ === 0) await sleep(200);
      const out = await update(mutate, opts);
      stamps.push(store.doc.users[EMAIL]!.refresh_in_flight?.since);
      clock.now += 3000;
      return out;
    };
    await expect(getValidAccessToken(session, EMAIL, { force: true })).resolves.toMatchObject({ accessToken: 'AT2' });
    expect(server.requests).toHaveLength(1);
    expect(stamps[0]).not.toBe(stamps[1]);
    expect(stamps[1]).toBeDefined();
  });

  it('a marker write that stays slower than the limit: nothing sent, marker cleared, exit 75', async () => {
    const { server, store, session } = await sessionKit(user(), [pair(2)], cleanups, {
      markerIdentity: ID,
      maxMarkerWriteMs: 50,
    });
    const update = store.update.bind(store);
    let n = 0;
    store.update = async (mutate, opts) => {
      if (n++ < 3) await sleep(120);
      return update(mutate, opts);
    };
    await expect(getValidAccessToken(session, EMAIL, { force: true })).rejects.toMatchObject({
      exitCode: 75,
      code: 'E_STORE_SLOW',
    });
    expect(server.requests).toHaveLength(0);
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(store.doc.users[EMAIL]!.refresh_token).toBe('RT1');
    expect(grantsSent(server)).toEqual([]);
  });
});
