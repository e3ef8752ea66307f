/**
 * REVIEW-1 finding 3: a library caller's AbortSignal never reaches into the refresh POST. Old code passed
 * createSession({ signal }) into the HTTP context the POST used: an abort mid-POST threw the DOMException out
 * of sendRequest and Box's rotated pair was never read, let alone saved. Now the POST runs without the caller's
 * signal once the marker is written; the abort is honoured right after the save.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeHttpContext, createHttpContext } from '../../../src/core/http/request.js';
import { createSession, getValidAccessToken } from '../../../src/index.js';
import { json, startLocalServer } from '../http/local-server.js';
import { memoryStore } from './memory-store.js';
import { EMAIL, GOOD, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const slowPair =
  (ms: number) => (req: Parameters<ReturnType<typeof json>>[0], res: Parameters<ReturnType<typeof json>>[1]) =>
    void setTimeout(() => json(200, GOOD(2))(req, res), ms);

async function untilRequest(server: { requests: unknown[] }) {
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
}

async function librarySession(signal: AbortSignal) {
  const server = await startLocalServer([slowPair(300)]);
  cleanups.push(server.close);
  const store = memoryStore({ version: 1, users: { [EMAIL]: user() } });
  const session = await createSession({
    store,
    env: { BOX_CLIENT_ID: 'cid', BOX_CLIENT_SECRET: 'sec' },
    apiBaseUrl: server.url.href,
    signal,
  });
  cleanups.push(() => session.close());
  return { server, store, session };
}

describe("the caller's AbortSignal and the refresh POST", () => {
  it('createSession({ signal }) aborted mid-POST: the rotated pair is saved, then the abort is honoured', async () => {
    const ac = new AbortController();
    const { server, store, session } = await librarySession(ac.signal);
    const call = getValidAccessToken(session, EMAIL);
    const settled = call.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await untilRequest(server);
    ac.abort();
    const outcome = await settled;
    expect(outcome).toMatchObject({ name: 'AbortError' });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', access_token: 'AT2', generation: 4 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(server.requests).toHaveLength(1);
  });

  it('session.close() during the POST waits for the save (the library tracks critical sections like the CLI)', async () => {
    const { server, store, session } = await librarySession(new AbortController().signal);
    const call = getValidAccessToken(session, EMAIL);
    await untilRequest(server);
    await session.close();
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
    await expect(call).resolves.toMatchObject({ refreshed: true, accessToken: 'AT2' });
  });

  it('a hand-built Session whose HTTP context carries a signal: an abort mid-POST still saves the pair', async () => {
    const ac = new AbortController();
    const http = await createHttpContext({ env: {}, log: { debug() {} }, signal: ac.signal });
    cleanups.push(() => closeHttpContext(http));
    const { server, store, session } = await sessionKit(user(), [slowPair(300)], cleanups, { http });
    const call = getValidAccessToken(session, EMAIL).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await untilRequest(server);
    ac.abort();
    await call;
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
  });
});
