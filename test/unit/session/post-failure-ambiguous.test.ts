/**
 * REVIEW-1 finding 3, second half: a failure of the refresh POST that is not Box's own refusal and not a
 * transport failure that provably sent nothing is ambiguous: the in-flight marker stays (an abort's
 * DOMException, a pool closed under the POST, a bug's TypeError). Old code at 0f6999f cleared it for these.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OperationError } from '../../../src/errors.js';

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

describe('a refresh POST that failed ambiguously keeps the marker', () => {
  it.each([
    ['an AbortError DOMException', () => new DOMException('This operation was aborted', 'AbortError')],
    ['the pool closed under the POST', () => new OperationError('E_POOL_CLOSED', 'POST /oauth2/token: cancelled, the connection pool was closed')],
    ['a TypeError', () => new TypeError('Cannot read properties of undefined')],
    ['a thrown string', () => 'boom'],
  ])('%s', async (_n, make) => {
    thrown.err = make();
    const { store, session } = await sessionKit(user(), [], cleanups);
    await expect(getValidAccessToken(session, EMAIL)).rejects.toBeDefined();
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT1', refresh_in_flight: { pid: 4242 } });
  });
});
