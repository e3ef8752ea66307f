/**
 * Issue 15 item 5, session half. (D) A refresh_in_flight marker that is not ours and younger than the POST
 * bound + 15 s is never replayed at once: its owner may still be saving the answer (a PostgreSQL holder
 * that lost its session lock mid-POST). Wait for it to clear (adopt the rotation) or to age out (replay).
 * (C) The save after the POST is fenced on the refresh token the refresh started from. (B) Space for the
 * save is reserved before the marker and released after the save.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import { FencedSaveError } from '../../../src/core/store/document.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { StoreError } from '../../../src/errors.js';
import { EMAIL, NOW, grantsSent, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const foreign = (ageMs: number, over: Record<string, unknown> = {}) => ({
  since: formatTimestamp(NOW - ageMs),
  pid: 777,
  host: 'other-host',
  generation: 3,
  ...over,
});

describe('a young in-flight marker of another process (D)', () => {
  it('is waited for, and the rotation its owner saves meanwhile is adopted: no POST at all', async () => {
    const { server, store, session } = await sessionKit(
      user({ refresh_in_flight: foreign(2000) }),
      [pair(9)],
      cleanups,
    );
    const got = getValidAccessToken(session, EMAIL, { force: true });
    await sleep(300);
    expect(server.requests).toHaveLength(0);
    store.doc.users[EMAIL] = user({
      access_token: 'ATX',
      refresh_token: 'RTX',
      generation: 4,
      access_token_expires_at: formatTimestamp(NOW + 3_000_000),
    });
    await expect(got).resolves.toMatchObject({ accessToken: 'ATX', refreshed: false });
    expect(server.requests).toHaveLength(0);
  });

  it('with a fresh access token, is left to its owner: the token is used at once, no lock wait, no POST', async () => {
    const fresh = user({ refresh_in_flight: foreign(1000), access_token_expires_at: formatTimestamp(NOW + 3_000_000) });
    const { server, session } = await sessionKit(fresh, [pair(2)], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT1', refreshed: false });
    expect(server.requests).toHaveLength(0);
  });

  it('is replayed once it ages past the POST bound + the save budget + 15 s', async () => {
    const { server, session, clock } = await sessionKit(
      user({ refresh_in_flight: foreign(2000) }),
      [pair(2)],
      cleanups,
      { saveBudgetMs: 1000 },
    );
    const got = getValidAccessToken(session, EMAIL);
    await sleep(300);
    expect(server.requests).toHaveLength(0);
    clock.now = NOW + 5000 + 1000 + 15_000;
    await expect(got).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(grantsSent(server)).toEqual(['RT1']);
  });

  it('cleared without a rotation (its owner got a 429): an ordinary refresh follows', async () => {
    const { server, store, session } = await sessionKit(
      user({ refresh_in_flight: foreign(1000) }),
      [pair(2)],
      cleanups,
    );
    const got = getValidAccessToken(session, EMAIL);
    await sleep(300);
    delete store.doc.users[EMAIL]!.refresh_in_flight;
    await expect(got).resolves.toMatchObject({ accessToken: 'AT2' });
    expect(grantsSent(server)).toEqual(['RT1']);
  });

  it('is replayed at once when it is our own, or its owner on this host is dead', async () => {
    // "Own" is the per-process nonce, "this host" includes the PID namespace (REVIEW-2 #5: marker-identity.test.ts).
    const id = { nonce: 'n1', pidNs: 'pid:[1]' };
    const own = await sessionKit(
      user({ refresh_in_flight: foreign(1000, { pid: 4242, host: 'test-host', nonce: 'n1' }) }),
      [pair(2)],
      cleanups,
      { markerIdentity: id },
    );
    await expect(getValidAccessToken(own.session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
    const dead = await sessionKit(
      user({ refresh_in_flight: foreign(1000, { host: 'test-host', pid_ns: 'pid:[1]' }) }),
      [pair(2)],
      cleanups,
      { isPidAlive: () => false, markerIdentity: id },
    );
    await expect(getValidAccessToken(dead.session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
  });

  it('a marker dated in the future is waited for at most the whole bound of polling, then replayed', async () => {
    const { server, session } = await sessionKit(
      user({ refresh_in_flight: foreign(-3_600_000) }),
      [pair(2)],
      cleanups,
      { refreshTimeoutMs: 100, saveBudgetMs: 100, markerMarginMs: 100 },
    );
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
    expect(server.requests).toHaveLength(1);
  });
});

describe('the fenced save (C)', () => {
  it('never overwrites a record that changed during the POST: E_FENCED exit 75, ours set aside, loud warning', async () => {
    const kit: Awaited<ReturnType<typeof sessionKit>> | undefined = await sessionKit(
      user(),
      () => (req, res) => {
        // Another process saved a newer pair while our POST was in flight (it held a lock we had lost).
        kit!.store.doc.users[EMAIL] = user({ access_token: 'ATX', refresh_token: 'RTX', generation: 4 });
        pair(2)(req, res);
      },
      cleanups,
    );
    const err = await getValidAccessToken(kit.session, EMAIL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedSaveError);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'E_FENCED', exitCode: 75 });
    const rec = kit.store.doc.users[EMAIL]!;
    expect(rec).toMatchObject({ access_token: 'ATX', refresh_token: 'RTX', generation: 4 });
    expect(rec.refresh_fenced_out).toMatchObject({ refresh_token: 'RT2', access_token: 'AT2', from_generation: 3 });
    expect(kit.warnings.join('\n')).toMatch(/newer|changed/);
  });

  it('a record removed during the POST (disconnect) is not brought back', async () => {
    const kit: Awaited<ReturnType<typeof sessionKit>> | undefined = await sessionKit(
      user(),
      () => (req, res) => {
        delete kit!.store.doc.users[EMAIL];
        pair(2)(req, res);
      },
      cleanups,
    );
    await expect(getValidAccessToken(kit.session, EMAIL)).rejects.toMatchObject({ code: 'E_FENCED' });
    expect(kit.store.doc.users[EMAIL]).toBeUndefined();
  });
});

describe('space reserved before the marker (B)', () => {
  it('reserve -> marker -> POST -> save -> release', async () => {
    const { store, session } = await sessionKit(user(), [pair(2)], cleanups);
    await getValidAccessToken(session, EMAIL);
    expect(store.events).toEqual(['reserve', 'update', 'update', 'release']);
  });

  it('released also when the POST fails', async () => {
    const { store, session } = await sessionKit(user(), [(_q, res) => void res.writeHead(503).end('{}')], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toMatchObject({ exitCode: 75 });
    // marker, then the temporary failure recorded for the connection's state (issue 18), then the release
    expect(store.events).toEqual(['reserve', 'update', 'update', 'release']);
  });
});
