/**
 * REVIEW-1 finding 1: once Box answered a refresh with a pair, the in-flight marker is never cleared by a
 * failing save, whatever the error class, and the save is retried for every class within a time budget (old
 * code: 3 attempts, then the save's own error, whose class decided the marker: a ConfigError, a 429-shaped
 * TemporaryError or a 4xx BoxApiError from the store cleared it; StoreBusyError said "nothing was lost").
 * What still fails is E_ROTATION_NOT_SAVED, exit 1, naming the user and saying the connection may be lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import {
  BoxApiError,
  ConfigError,
  OperationError,
  StoreBusyError,
  StoreError,
  TemporaryError,
} from '../../../src/errors.js';
import { EMAIL, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const CLASSES: Array<[string, () => unknown]> = [
  ['StoreBusyError (store lock held)', () => new StoreBusyError('the store is busy (held by pid 1)')],
  [
    'StoreError on the re-read',
    () => new StoreError('E_STORE_CORRUPT', '/s/tokens.json', 'the store is not valid JSON (line 1, column 2)'),
  ],
  ['a plain Error', () => new Error('EACCES: permission denied')],
  [
    'PostgreSQL TemporaryError',
    () => new TemporaryError('the database is unreachable', { code: 'E_STORE_UNREACHABLE' }),
  ],
  ['PostgreSQL OperationError', () => new OperationError('E_STORE_DB', 'the database refused the write')],
  ['pg-pool connect timeout', () => new Error('timeout exceeded when trying to connect')],
  ['a ConfigError', () => new ConfigError('bad database url', { code: 'E_CONFIG' })],
  ['a 429-shaped TemporaryError', () => new TemporaryError('too many connections', { details: { status: 429 } })],
  ['a 4xx-shaped BoxApiError', () => new BoxApiError('refused', { status: 400 })],
];

/** The store's update fails `times` times right after the marker was written (-1: always). */
async function failingSave(make: () => unknown, times: number, budgetMs: number) {
  const k = await sessionKit(user(), [pair(2)], cleanups, { saveBudgetMs: budgetMs });
  const update = k.store.update.bind(k.store);
  let calls = 0;
  k.store.update = async (m) => {
    calls += 1;
    // call 1 writes the marker; the saves come after it
    if (calls >= 2 && (times < 0 || calls <= 1 + times)) throw make();
    return update(m);
  };
  return { ...k, saves: () => calls - 1 };
}

describe('a save that fails after Box answered', () => {
  it.each(CLASSES)(
    '%s that never clears: marker kept, E_ROTATION_NOT_SAVED exit 1, never "nothing was lost"',
    async (_n, make) => {
      const { store, session } = await failingSave(make, -1, 50);
      const err = await getValidAccessToken(session, EMAIL).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'E_ROTATION_NOT_SAVED', exitCode: 1 });
      const e = err as { message: string; hint?: string };
      expect(e.message).toContain(EMAIL);
      expect(e.message).toMatch(/may be lost/);
      expect(`${e.message} ${e.hint ?? ''}`).not.toMatch(/nothing was lost/i);
      expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT1', refresh_in_flight: { pid: 4242 } });
    },
  );

  it('is retried past three attempts while the budget lasts, each attempt a fresh update, and then saved', async () => {
    const { store, session, saves } = await failingSave(() => new StoreBusyError('busy'), 4, 10_000);
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(saves()).toBe(5);
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
  });

  it('keeps retrying for the whole budget, not a fixed count', async () => {
    const { session, saves } = await failingSave(() => new Error('EIO'), -1, 1_000);
    const t0 = performance.now();
    await expect(getValidAccessToken(session, EMAIL)).rejects.toMatchObject({ code: 'E_ROTATION_NOT_SAVED' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    expect(saves()).toBeGreaterThanOrEqual(4);
  });
});

describe('a save whose commit went through but whose answer was lost', () => {
  it('the retry finds our own pair already stored (fenced out by itself): saved, refreshed, no false alarm', async () => {
    const { store, session, warnings } = await sessionKit(user(), [pair(2)], cleanups);
    const update = store.update.bind(store);
    let calls = 0;
    store.update = async (m) => {
      calls += 1;
      const out = await update(m);
      // The save commits, then the connection drops before the acknowledgement (PostgreSQL after COMMIT).
      if (calls === 2) throw new Error('Connection terminated unexpectedly');
      return out;
    };
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2', generation: 4 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(store.doc.users[EMAIL]!.refresh_fenced_out).toBeUndefined();
    expect(warnings.join('\n')).not.toMatch(/changed while this refresh was in flight/);
  });

  it('the last attempt, committed but unacknowledged when the budget ran out, is found and counts as saved', async () => {
    const { store, session } = await sessionKit(user(), [pair(2)], cleanups, { saveBudgetMs: 0 });
    const update = store.update.bind(store);
    let calls = 0;
    store.update = async (m) => {
      calls += 1;
      const out = await update(m);
      if (calls >= 2) throw new Error('Connection terminated unexpectedly');
      return out;
    };
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
  });
});

describe('one attempt cannot outlast the budget', () => {
  it('a store lock wait longer than the budget is cut at the budget (the store gets a deadline signal)', async () => {
    const { session, store } = await sessionKit(user(), [pair(2)], cleanups, { saveBudgetMs: 300 });
    const update = store.update.bind(store);
    let calls = 0;
    store.update = async (m, options) => {
      calls += 1;
      if (calls === 1) return update(m);
      // A store lock held by someone else: waits its own 5 s unless the caller's signal ends the wait first.
      return new Promise((_resolve, reject) => {
        const t = setTimeout(() => reject(new StoreBusyError('store busy (held by pid 1)')), 5000);
        options?.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            reject(options.signal!.reason);
          },
          { once: true },
        );
      });
    };
    const t0 = performance.now();
    const err = await getValidAccessToken(session, EMAIL).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(err).toMatchObject({ code: 'E_ROTATION_NOT_SAVED' });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeDefined();
  });
});
