/**
 * Adversarial review of the POST -> save window (issue 15): the save of a rotated pair is retried whatever
 * made the write fail (old code retried only StoreWriteError: a busy store lock or a dropped database
 * connection at that moment threw the rotated pair away), never a fenced-out save.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import { StoreBusyError, TemporaryError } from '../../../src/errors.js';
import { EMAIL, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('saving the rotated pair', () => {
  it.each([
    ['a busy store lock', () => new StoreBusyError('store busy (held by pid 1)')],
    [
      'a dropped database connection',
      () => new TemporaryError('connection terminated', { code: 'E_STORE_CONNECTION' }),
    ],
  ])('is retried after %s, and the pair is saved', async (_n, make) => {
    const { store, session, warnings } = await sessionKit(user(), [pair(2)], cleanups);
    const update = store.update.bind(store);
    let calls = 0;
    store.update = async (m) => {
      calls += 1;
      if (calls === 2) throw make();
      return update(m);
    };
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
    expect(warnings.join('\n')).toMatch(/retrying/);
  });
});

describe('output inside the refresh window', () => {
  it('a --debug line that throws (stderr on a full disk) cannot turn the 200 into a failure: the pair is saved', async () => {
    const { createHttpContext, closeHttpContext } = await import('../../../src/core/http/request.js');
    const boom = {
      debug() {
        throw Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' });
      },
    };
    const http = await createHttpContext({ env: {}, log: boom });
    cleanups.push(() => closeHttpContext(http));
    const { store, session } = await sessionKit(user(), [pair(2)], cleanups, {
      http,
      log: boom,
      warn: () => {
        throw new Error('EPIPE');
      },
    });
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
  });
});
