/**
 * Issue 15 item 2 through the protocol: a 200 with a new refresh token is saved whatever else is wrong with
 * it; an access token of unknown life counts as expired; a caller that needs an access token gets one (a
 * second, ordinary refresh with the saved refresh token) or a plain error, never an empty token; a 200
 * without a refresh token keeps the in-flight marker (the next run replays and learns the truth).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import { refreshMany } from '../../../src/core/refresh-all.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { TemporaryError } from '../../../src/errors.js';
import { json, text } from '../http/local-server.js';
import { EMAIL, GOOD, NOW, grantsSent, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('a malformed 200 during a refresh', () => {
  it.each([
    ['expires_in a string', { ...GOOD(2), expires_in: '3600' }, NOW],
    ['expires_in negative', { ...GOOD(2), expires_in: -1 }, NOW],
    ['expires_in absent', { ...GOOD(2), expires_in: undefined }, NOW],
    ['expires_in 1e12', { ...GOOD(2), expires_in: 1e12 }, NOW + 3540_000],
  ])(
    '%s: the rotated pair is saved (generation+1, marker cleared), clamped expiry, a warning',
    async (_n, body, expiresAt) => {
      const { server, store, session, warnings } = await sessionKit(user(), [json(200, body)], cleanups);
      const r = await getValidAccessToken(session, EMAIL);
      expect(r).toMatchObject({ accessToken: 'AT2', refreshed: true });
      expect(r.warnings?.length).toBe(1);
      expect(grantsSent(server)).toEqual(['RT1']);
      const saved = store.doc.users[EMAIL]!;
      expect(saved).toMatchObject({ access_token: 'AT2', refresh_token: 'RT2', generation: 4 });
      expect(saved.access_token_expires_at).toBe(formatTimestamp(expiresAt));
      expect(saved.refresh_in_flight).toBeUndefined();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(EMAIL));
    },
  );

  it('an access token of unknown life counts as expired: the next caller refreshes with the saved refresh token', async () => {
    const { server, session } = await sessionKit(
      user(),
      [json(200, { ...GOOD(2), expires_in: 'x' }), pair(3)],
      cleanups,
    );
    await getValidAccessToken(session, EMAIL);
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT3', refreshed: true });
    expect(grantsSent(server)).toEqual(['RT1', 'RT2']);
  });

  it('no access_token: the refresh token is saved and a caller needing a token refreshes again with it', async () => {
    const { server, store, session } = await sessionKit(
      user(),
      [json(200, { ...GOOD(2), access_token: undefined }), pair(3)],
      cleanups,
    );
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT3', refreshed: true });
    expect(grantsSent(server)).toEqual(['RT1', 'RT2']);
    expect(store.doc.users[EMAIL]).toMatchObject({ access_token: 'AT3', refresh_token: 'RT3', generation: 5 });
  });

  it('no access_token twice: a plain error (exit 1), never an empty token, and the second pair is kept', async () => {
    const noAt = (n: number) => json(200, { ...GOOD(n), access_token: undefined });
    const { server, store, session } = await sessionKit(user(), [noAt(2), noAt(3)], cleanups);
    const err = await getValidAccessToken(session, EMAIL).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_BOX_NO_ACCESS_TOKEN', exitCode: 1 });
    expect(server.requests).toHaveLength(2);
    expect(store.doc.users[EMAIL]).toMatchObject({ access_token: '', refresh_token: 'RT3' });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
  });

  it('refresh (no access token needed): one POST, counted refreshed, with the warning in the outcome', async () => {
    const { server, store, session } = await sessionKit(
      user(),
      [json(200, { ...GOOD(2), access_token: undefined })],
      cleanups,
    );
    const [o] = await refreshMany(session, [EMAIL], { concurrency: 1, force: true });
    expect(o).toMatchObject({ email: EMAIL, status: 'refreshed' });
    expect(o!.warnings?.join(' ')).toMatch(/access_token/);
    expect(server.requests).toHaveLength(1);
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', access_token: '' });
  });

  it('a stored empty access token is never handed out as fresh', async () => {
    const { server, session } = await sessionKit(
      user({ access_token: '', access_token_expires_at: formatTimestamp(NOW + 3_000_000) }),
      [pair(2)],
      cleanups,
    );
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2' });
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['no refresh_token', json(200, { ...GOOD(2), refresh_token: undefined })],
    ['an empty refresh_token', json(200, { ...GOOD(2), refresh_token: '' })],
    ['an HTML 200', text(200, '<html>portal</html>')],
  ])('%s: old pair and the in-flight marker kept, exit 75 saying the connection may be lost', async (_n, reply) => {
    const { store, session } = await sessionKit(user(), [reply], cleanups);
    const err = await getValidAccessToken(session, EMAIL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporaryError);
    expect(err).toMatchObject({ code: 'E_ROTATION_UNKNOWN', exitCode: 75 });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT1', generation: 3 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toMatchObject({ pid: 4242 });
  });
});
