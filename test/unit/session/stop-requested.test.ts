/**
 * REVIEW-2 findings 1, 9 and 10: a stop asked for (interrupts.stopRequested, set the moment a signal
 * arrives even inside a critical section) sends nothing more; and what a failed refresh leaves behind is
 * written inside the critical section, so close()/drain() and the signal exit wait for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { refreshMany } from '../../../src/core/refresh-all.js';
import { getValidAccessToken } from '../../../src/core/session.js';
import { ConfigError, InterruptedError } from '../../../src/errors.js';
import { json } from '../http/local-server.js';
import { EMAIL, GOOD, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const stopping = () => {
  const stop = new AbortController();
  let depth = 0;
  const interrupts = {
    stopRequested: stop.signal,
    critical: async <T>(fn: () => Promise<T>): Promise<T> => {
      depth += 1;
      try {
        return await fn();
      } finally {
        depth -= 1;
      }
    },
  };
  return { stop, interrupts, depth: () => depth };
};

describe('a stop asked for during a refresh (REVIEW-2 #1, #10)', () => {
  it('while the marker is written: our marker is cleared, nothing is sent, the stop is thrown', async () => {
    const s = stopping();
    const { server, store, session } = await sessionKit(user(), [pair(2)], cleanups, { interrupts: s.interrupts });
    const update = store.update.bind(store);
    store.update = async (mutate, opts) => {
      const out = await update(mutate, opts);
      s.stop.abort(new InterruptedError('interrupted (SIGTERM)', 143));
      return out;
    };
    await expect(getValidAccessToken(session, EMAIL, { force: true })).rejects.toMatchObject({
      code: 'E_INTERRUPTED',
      exitCode: 143,
    });
    expect(server.requests).toHaveLength(0);
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(store.doc.users[EMAIL]!.refresh_token).toBe('RT1');
  });

  it('before the refresh: nothing reserved, nothing written', async () => {
    const s = stopping();
    s.stop.abort(new InterruptedError('interrupted (SIGTERM)', 143));
    const { server, store, session } = await sessionKit(user(), [pair(2)], cleanups, { interrupts: s.interrupts });
    await expect(getValidAccessToken(session, EMAIL, { force: true })).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(server.requests).toHaveLength(0);
    expect(store.events).toEqual([]);
  });

  it('refresh --all starts no further user once a stop is asked for, and the stop is what it throws', async () => {
    const s = stopping();
    const emails = ['u1@x.com', 'u2@x.com', 'u3@x.com', 'u4@x.com'];
    const k = await sessionKit(
      undefined,
      (req) => {
        const spent = new URLSearchParams(req.body).get('refresh_token') ?? '';
        return (rq, res) =>
          setTimeout(
            () => json(200, { ...GOOD(0), access_token: `AT-${spent}`, refresh_token: `${spent}-new` })(rq, res),
            20,
          );
      },
      cleanups,
      { interrupts: s.interrupts },
    );
    for (const e of emails) k.store.doc.users[e] = user({ refresh_token: `RT-${e}` });
    const run = refreshMany(k.session, emails, {
      concurrency: 1,
      force: true,
      onOutcome: () => s.stop.abort(new InterruptedError('interrupted (SIGTERM)', 143)),
    });
    await expect(run).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(k.server.requests).toHaveLength(1);
    expect(k.store.doc.users['u1@x.com']!.refresh_token).toBe('RT-u1@x.com-new');
    for (const e of emails.slice(1)) expect(k.store.doc.users[e]).toMatchObject({ refresh_token: `RT-${e}` });
    for (const e of emails) expect(k.store.doc.users[e]!.refresh_in_flight).toBeUndefined();
  });
});

describe('failure handling inside the critical section (REVIEW-2 #9)', () => {
  it('invalid_grant: needs_reconnect is written while the section is still open', async () => {
    const s = stopping();
    const { store, session } = await sessionKit(
      user(),
      [json(400, { error: 'invalid_grant', error_description: 'Invalid refresh token' })],
      cleanups,
      { interrupts: s.interrupts },
    );
    const depths: number[] = [];
    const update = store.update.bind(store);
    store.update = async (mutate, opts) => {
      depths.push(s.depth());
      return update(mutate, opts);
    };
    await expect(getValidAccessToken(session, EMAIL, { force: true })).rejects.toMatchObject({ exitCode: 4 });
    expect(store.doc.users[EMAIL]!.needs_reconnect).toBeDefined();
    // marker write, then the needs_reconnect write: both inside.
    expect(depths).toEqual([1, 1]);
  });

  it('a 429 clears the marker inside the section', async () => {
    const s = stopping();
    const { store, session } = await sessionKit(user(), [json(429, {})], cleanups, { interrupts: s.interrupts });
    const depths: number[] = [];
    const update = store.update.bind(store);
    store.update = async (mutate, opts) => {
      depths.push(s.depth());
      return update(mutate, opts);
    };
    await expect(getValidAccessToken(session, EMAIL, { force: true })).rejects.toMatchObject({ exitCode: 75 });
    expect(store.doc.users[EMAIL]!.refresh_in_flight).toBeUndefined();
    expect(depths).toEqual([1, 1]);
  });
});

describe('a config-class save error after Box answered (REVIEW-2 #8)', () => {
  it('is E_ROTATION_NOT_SAVED for that user: marker kept, and refresh --all goes on with the others', async () => {
    const emails = ['u1@x.com', 'u2@x.com'];
    const k = await sessionKit(
      undefined,
      (req) => {
        const spent = new URLSearchParams(req.body).get('refresh_token') ?? '';
        return json(200, { ...GOOD(0), access_token: `AT-${spent}`, refresh_token: `${spent}-new` });
      },
      cleanups,
      { saveBudgetMs: 200 },
    );
    for (const e of emails) k.store.doc.users[e] = user({ refresh_token: `RT-${e}` });
    const update = k.store.update.bind(k.store);
    k.store.update = async (mutate, opts) => {
      const probe = structuredClone(k.store.doc);
      const out = mutate(probe) as { refresh_token?: string } | undefined;
      // Every save of u1's new pair fails as a PostgreSQL auth error would (postgres/errors.ts: ConfigError).
      if (out?.refresh_token === 'RT-u1@x.com-new')
        throw new ConfigError('password authentication failed for user "boxqc"', { code: 'E_PG_AUTH' });
      return update(mutate, opts);
    };
    const outcomes = await refreshMany(k.session, emails, { concurrency: 1, force: true });
    expect(outcomes[0]).toMatchObject({ email: 'u1@x.com', status: 'failed', error: { code: 'E_ROTATION_NOT_SAVED' } });
    expect(outcomes[1]).toMatchObject({ email: 'u2@x.com', status: 'refreshed' });
    expect(k.store.doc.users['u1@x.com']!.refresh_in_flight).toBeDefined();
  });
});
