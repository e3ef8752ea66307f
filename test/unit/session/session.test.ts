import { afterEach, describe, expect, it } from 'vitest';
import { createHttpContext, closeHttpContext } from '../../../src/core/http/request.js';
import { getValidAccessToken, type Session } from '../../../src/core/session.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import type { StoredUser } from '../../../src/core/store/types.js';
import { ConfigError, ReconnectRequiredError, StoreWriteError, TemporaryError } from '../../../src/errors.js';
import { json, startLocalServer, type Reply } from '../http/local-server.js';
import { memoryStore } from './memory-store.js';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function user(over: Partial<StoredUser> = {}): StoredUser {
  return {
    access_token: 'AT1',
    refresh_token: 'RT1',
    access_token_expires_at: formatTimestamp(NOW - 1000),
    connected_at: formatTimestamp(NOW - 86_400_000),
    updated_at: formatTimestamp(NOW - 3_600_000),
    generation: 3,
    ...over,
  };
}

const pair = (n: number) =>
  json(200, { access_token: `AT${n}`, refresh_token: `RT${n}`, expires_in: 3600, token_type: 'bearer' });

async function setup(u: StoredUser | undefined, replies: Reply[], timeoutMs = 5000) {
  const server = await startLocalServer(replies);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  const store = memoryStore({ version: 1, users: u ? { 'a@x.com': u } : {} });
  let criticalDepth = 0;
  const session: Session = {
    store,
    http,
    apiBaseUrl: server.url,
    credentials: () => ({ clientId: 'cid', clientSecret: 'sec' }),
    now: () => NOW,
    interrupts: {
      critical: async (fn) => {
        criticalDepth++;
        try {
          return await fn();
        } finally {
          criticalDepth--;
        }
      },
    },
    log: { debug() {} },
    pid: 4242,
    host: 'test-host',
    refreshTimeoutMs: timeoutMs,
    // The young-marker bound includes the save budget: keep the dead-owner replays below as quick as before.
    saveBudgetMs: 0,
  };
  return { server, store, session, depth: () => criticalDepth };
}

const grantsSent = (server: { requests: { body: string }[] }) =>
  server.requests.map((r) => new URLSearchParams(r.body).get('refresh_token'));

describe('getValidAccessToken', () => {
  it('uses a fresh access token without calling Box or writing the store', async () => {
    const { server, store, session } = await setup(
      user({ access_token_expires_at: formatTimestamp(NOW + 30 * 60_000) }),
      [],
    );
    await expect(getValidAccessToken(session, 'A@x.com')).resolves.toMatchObject({
      accessToken: 'AT1',
      refreshed: false,
    });
    expect(server.requests).toHaveLength(0);
    expect(store.writes).toBe(0);
  });

  it('refreshes an expiring token once and saves the rotated pair with generation+1 and no marker', async () => {
    const { server, store, session } = await setup(user(), [pair(2)]);
    const r = await getValidAccessToken(session, 'a@x.com');
    expect(r).toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(grantsSent(server)).toEqual(['RT1']);
    const saved = store.doc.users['a@x.com']!;
    expect(saved).toMatchObject({
      access_token: 'AT2',
      refresh_token: 'RT2',
      generation: 4,
      refresh_token_issued_at: formatTimestamp(NOW),
    });
    expect(saved.refresh_in_flight).toBeUndefined();
    expect(saved.access_token_expires_at).toBe(formatTimestamp(NOW + 3540_000));
  });

  it('shares one refresh between 10 concurrent callers in one process', async () => {
    const { server, session } = await setup(user(), [pair(2)]);
    const results = await Promise.all(Array.from({ length: 10 }, () => getValidAccessToken(session, 'a@x.com')));
    expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['AT2']));
    expect(server.requests).toHaveLength(1);
  });

  it('adopts a rotation made by another process while it waited for the lock', async () => {
    const { server, store, session } = await setup(user(), []);
    store.onLocked = (doc) => {
      doc.users['a@x.com'] = user({
        access_token: 'ATX',
        refresh_token: 'RTX',
        generation: 4,
        access_token_expires_at: formatTimestamp(NOW + 3_000_000),
      });
    };
    await expect(getValidAccessToken(session, 'a@x.com')).resolves.toMatchObject({
      accessToken: 'ATX',
      refreshed: false,
    });
    expect(server.requests).toHaveLength(0);
  });

  it('with rejectedAccessToken, refreshes only when the store still holds the rejected token', async () => {
    const fresh = user({ access_token_expires_at: formatTimestamp(NOW + 3_000_000) });
    const { server, session } = await setup(fresh, [pair(2)]);
    await expect(getValidAccessToken(session, 'a@x.com', { rejectedAccessToken: 'OTHER' })).resolves.toMatchObject({
      accessToken: 'AT1',
    });
    await expect(getValidAccessToken(session, 'a@x.com', { rejectedAccessToken: 'AT1' })).resolves.toMatchObject({
      accessToken: 'AT2',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('on invalid_grant keeps the record, marks needs_reconnect and exits 4 with the connect hint', async () => {
    const { server, store, session } = await setup(user(), [
      json(400, { error: 'invalid_grant', error_description: 'Invalid refresh token' }),
    ]);
    const err = await getValidAccessToken(session, 'a@x.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReconnectRequiredError);
    expect(err).toMatchObject({ exitCode: 4, hint: 'run: box-qc connect --email a@x.com' });
    const kept = store.doc.users['a@x.com']!;
    expect(kept).toMatchObject({ access_token: 'AT1', refresh_token: 'RT1' });
    expect(kept.needs_reconnect?.reason).toBe('refresh_token_invalid');
    expect(kept.refresh_in_flight).toBeUndefined();
    // Later calls fail without calling Box again.
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(ReconnectRequiredError);
    expect(server.requests).toHaveLength(1);
  });

  it('records refresh_token_expired for "Refresh token has expired"', async () => {
    const { store, session } = await setup(user(), [
      json(400, { error: 'invalid_grant', error_description: 'Refresh token has expired' }),
    ]);
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(ReconnectRequiredError);
    expect(store.doc.users['a@x.com']!.needs_reconnect?.reason).toBe('refresh_token_expired');
  });

  it('replays a refresh left in flight by a dead process once: success recovers the user', async () => {
    const inflight = { since: formatTimestamp(NOW - 5000), pid: 999999, host: 'test-host', generation: 3 };
    const { server, store, session } = await setup(user({ refresh_in_flight: inflight }), [pair(2)]);
    await expect(getValidAccessToken(session, 'a@x.com')).resolves.toMatchObject({ accessToken: 'AT2' });
    expect(grantsSent(server)).toEqual(['RT1']);
    expect(store.doc.users['a@x.com']!.refresh_in_flight).toBeUndefined();
  });

  it('reports refresh_interrupted when the replay of an in-flight refresh gets invalid_grant', async () => {
    const inflight = { since: formatTimestamp(NOW - 5000), pid: 999999, host: 'test-host', generation: 3 };
    const { server, store, session } = await setup(user({ refresh_in_flight: inflight }), [
      json(400, { error: 'invalid_grant' }),
    ]);
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(ReconnectRequiredError);
    expect(server.requests).toHaveLength(1);
    expect(store.doc.users['a@x.com']!.needs_reconnect?.reason).toBe('refresh_interrupted');
  });

  it('fails without calling Box when the store cannot be written, store unchanged', async () => {
    const { server, store, session } = await setup(user(), [pair(2)]);
    store.notWritable = true;
    const before = structuredClone(store.doc);
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(StoreWriteError);
    expect(server.requests).toHaveLength(0);
    expect(store.doc).toEqual(before);
  });

  it('keeps the old pair and the in-flight marker on a 503 (exit 75, one attempt): Box may have committed', async () => {
    const { server, store, session } = await setup(user(), [json(503, {}), pair(2)]);
    const err = await getValidAccessToken(session, 'a@x.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporaryError);
    expect((err as TemporaryError).exitCode).toBe(75);
    expect(server.requests).toHaveLength(1);
    expect(store.doc.users['a@x.com']).toMatchObject({ refresh_token: 'RT1', generation: 3 });
    expect(store.doc.users['a@x.com']!.refresh_in_flight).toMatchObject({ pid: 4242 });
  });

  it('keeps the old pair and clears the marker on a 429 (exit 75, one attempt): Box did not process it', async () => {
    const { server, store, session } = await setup(user(), [json(429, { error: 'temporarily_unavailable' }), pair(2)]);
    const err = await getValidAccessToken(session, 'a@x.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporaryError);
    expect(server.requests).toHaveLength(1);
    expect(store.doc.users['a@x.com']).toMatchObject({ refresh_token: 'RT1', generation: 3 });
    expect(store.doc.users['a@x.com']!.refresh_in_flight).toBeUndefined();
  });

  it('keeps the in-flight marker when the answer was lost (timeout): the outcome is unknown', async () => {
    const { store, session } = await setup(user(), [() => {}], 200);
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(TemporaryError);
    expect(store.doc.users['a@x.com']).toMatchObject({ refresh_token: 'RT1' });
    expect(store.doc.users['a@x.com']!.refresh_in_flight).toMatchObject({ pid: 4242 });
  });

  it('maps invalid_client to ConfigError exit 2 and leaves the record as it was', async () => {
    const { store, session } = await setup(user(), [json(400, { error: 'invalid_client' })]);
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toBeInstanceOf(ConfigError);
    expect(store.doc.users['a@x.com']!.needs_reconnect).toBeUndefined();
    expect(store.doc.users['a@x.com']!.refresh_in_flight).toBeUndefined();
  });

  it('exits 4 for an unknown user and for a marked user without calling Box', async () => {
    const marked = user({
      needs_reconnect: { reason: 'refresh_token_expired', message: 'expired', at: formatTimestamp(NOW) },
    });
    const { server, session } = await setup(marked, []);
    await expect(getValidAccessToken(session, 'b@x.com')).rejects.toMatchObject({
      code: 'E_NOT_CONNECTED',
      exitCode: 4,
    });
    await expect(getValidAccessToken(session, 'a@x.com')).rejects.toMatchObject({ exitCode: 4 });
    expect(server.requests).toHaveLength(0);
  });

  it('refreshes when the refresh token is older than maxAge even if the access token is fresh', async () => {
    const old = user({
      access_token_expires_at: formatTimestamp(NOW + 3_000_000),
      refresh_token_issued_at: formatTimestamp(NOW - 8 * 86_400_000),
    });
    const { server, session } = await setup(old, [pair(2)]);
    await expect(getValidAccessToken(session, 'a@x.com', { maxAgeMs: 7 * 86_400_000 })).resolves.toMatchObject({
      refreshed: true,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('writes the in-flight marker, POSTs and saves inside the critical section', async () => {
    const { store, session, depth } = await setup(user(), [pair(2)]);
    const seen: number[] = [];
    const update = store.update.bind(store);
    store.update = async (m) => {
      seen.push(depth());
      return update(m);
    };
    await getValidAccessToken(session, 'a@x.com');
    expect(seen).toEqual([1, 1]); // marker and save, both deferred-signal territory
  });
});
