/**
 * What a failed refresh POST does to the in-flight marker.
 *  - Issue 15 item 5 / interface A: a transport failure that provably sent nothing (details.requestSent ===
 *    false: DNS, ECONNREFUSED, connect timeout) clears it, since Box cannot have rotated; a failure after
 *    sending (requestSent true, or not said) keeps it, like a 5xx.
 *  - REVIEW-1 finding 3, second half: a failure that is neither Box's own refusal nor a transport failure
 *    that provably sent nothing is ambiguous and keeps it too (an abort's DOMException, a pool closed under
 *    the POST, a bug's TypeError). Old code at 0f6999f cleared it for these.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NetworkError } from '../../../src/core/http/request.js';
import { OperationError } from '../../../src/errors.js';

const thrown: { err?: unknown } = {};
vi.mock('../../../src/core/oauth/token-endpoint.js', async (orig) => {
  const real = await orig<typeof import('../../../src/core/oauth/token-endpoint.js')>();
  return {
    ...real,
    refreshTokens: async () => {
      throw thrown.err;
    },
  };
});

const { getValidAccessToken } = await import('../../../src/core/session.js');
const { EMAIL, sessionKit, user } = await import('./session-kit.js');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('a refresh POST that failed ambiguously keeps the marker', () => {
  it.each([
    ['an AbortError DOMException', () => new DOMException('This operation was aborted', 'AbortError')],
    [
      'the pool closed under the POST',
      () => new OperationError('E_POOL_CLOSED', 'POST /oauth2/token: cancelled, the connection pool was closed'),
    ],
    ['a TypeError', () => new TypeError('Cannot read properties of undefined')],
    ['a thrown string', () => 'boom'],
  ])('%s', async (_n, make) => {
    thrown.err = make();
    const { store, session } = await sessionKit(user(), [], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toBeDefined();
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT1', refresh_in_flight: { pid: 4242 } });
  });
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
    const err = new NetworkError('POST /oauth2/token: no answer within 30 s (Box may have received it)', {
      requestSent: true,
    });
    // An error from another transport that does not say (undefined) must count as sent.
    if (!details) delete (err.details as Record<string, unknown>).requestSent;
    thrown.err = err;
    const { store, session } = await sessionKit(user(), [], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toMatchObject({ exitCode: 75 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toMatchObject({ pid: 4242 });
  });
});
