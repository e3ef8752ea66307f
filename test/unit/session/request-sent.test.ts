/**
 * Issue 15 item 5 / interface A: a transport failure that provably sent nothing (details.requestSent ===
 * false: DNS, ECONNREFUSED, connect timeout) clears the in-flight marker, since Box cannot have rotated; a
 * failure after sending (requestSent true, or not said) keeps it, like a 5xx.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NetworkError } from '../../../src/core/http.js';

const thrown: { err?: unknown } = {};
vi.mock('../../../src/core/oauth/token-endpoint.js', async (orig) => {
  const real = await orig<typeof import('../../../src/core/oauth/token-endpoint.js')>();
  return { ...real, refreshTokens: async () => { throw thrown.err; } };
});

const { getValidAccessToken } = await import('../../../src/core/session.js');
const { EMAIL, sessionKit, user } = await import('./session-kit.js');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('transport failures and the in-flight marker', () => {
  it('nothing sent (requestSent false): marker cleared, exit 75', async () => {
    thrown.err = new NetworkError('POST /oauth2/token: ECONNREFUSED', { requestSent: false });
    const { store, session } = await sessionKit(user(), [], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toMatchObject({ exitCode: 75 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT1' });
  });

  it.each([
    ['requestSent true (a timeout after sending)', { requestSent: true }],
    ['requestSent not said', undefined],
  ])('%s: marker kept', async (_n, details) => {
    const err = new NetworkError('POST /oauth2/token: no answer within 30 s (Box may have received it)', { requestSent: true });
    // An error from another transport that does not say (undefined) must count as sent.
    if (!details) delete (err.details as Record<string, unknown>).requestSent;
    thrown.err = err;
    const { store, session } = await sessionKit(user(), [], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toMatchObject({ exitCode: 75 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toMatchObject({ pid: 4242 });
  });
});
