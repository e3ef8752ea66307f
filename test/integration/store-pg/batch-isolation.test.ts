/**
 * Issue 15 review finding 2, on both backends: one caller's unstorable record (a timestamp past year 9999,
 * a NUL or a lone surrogate in a token) fails that caller alone; every other save of the same group commit
 * is written. Three saves are queued together (one batch): the middle one is bad.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { backends, type BackendInstance } from './backends.js';

beforeAll(requireBuild);
const { skip: skipPg, cluster } = usePgCluster();

const pair = (n: number | string, expiresIn = 3895) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn });
/** `pgOnly`: the file stores it exactly (JSON escapes it), PostgreSQL's jsonb cannot (22P05, 22P02). */
const BAD = {
  'a timestamp past year 9999 (expires_in 1e12)': {
    pair: pair(2, 1e12),
    field: /access_token_expires_at/,
    pgOnly: false,
  },
  'a NUL in the refresh token': {
    pair: { ...pair(2), refreshToken: 'rt2\u0000x' },
    field: /refresh_token holds a NUL/,
    pgOnly: true,
  },
  'a lone surrogate in the access token': {
    pair: { ...pair(2), accessToken: 'at\ud800' },
    field: /access_token holds a lone UTF-16 surrogate/,
    pgOnly: true,
  },
};

describe.each(backends(cluster))('$name store: one bad save in a group commit', (backend) => {
  const skip = backend.name === 'postgres' && skipPg;
  let b: BackendInstance;
  beforeEach(async () => {
    if (!skip) b = await backend.create();
  });
  afterEach(async () => {
    if (!skip) await b.cleanup();
  });

  it.skipIf(skip).each(Object.entries(BAD))(
    'fails only its own caller (%s); the other two are saved',
    async (_name, bad) => {
      const store = b.open();
      try {
        await store.update((d) => {
          for (const e of ['a@x.com', 'b@x.com', 'c@x.com']) saveUserTokens(d, e, pair(1), undefined, Date.now());
        });
        // Queued in one tick: the first starts a commit at once, the other two wait for it and are committed
        // together (group commit): the bad one shares its batch with a good one.
        const results = await Promise.allSettled([
          store.update((d) => saveUserTokens(d, 'a@x.com', pair(3), undefined, Date.now())),
          store.update((d) => saveUserTokens(d, 'b@x.com', bad.pair, undefined, Date.now())),
          store.update((d) => saveUserTokens(d, 'c@x.com', pair(3), undefined, Date.now())),
        ]);
        const reader = b.open();
        const doc = await reader.read().finally(() => reader.close());
        expect(doc.users['a@x.com']).toMatchObject({ refresh_token: 'rt3', generation: 2 });
        expect(doc.users['c@x.com']).toMatchObject({ refresh_token: 'rt3', generation: 2 });
        if (bad.pgOnly && backend.name === 'file') {
          // Saved exactly: a rotated token the file can hold is never refused.
          expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
          expect(doc.users['b@x.com']).toMatchObject({
            access_token: bad.pair.accessToken,
            refresh_token: bad.pair.refreshToken,
            generation: 2,
          });
          return;
        }
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        const err = (results[1] as PromiseRejectedResult).reason as StoreError;
        expect(err).toBeInstanceOf(StoreError);
        expect(err).toMatchObject({ code: 'E_STORE_UNSTORABLE', exitCode: 1 });
        expect(err.message).toMatch(bad.field);
        expect(err.message).toContain('b@x.com');
        expect(err.message).not.toContain('rt2');
        expect(doc.users['b@x.com']).toMatchObject({ refresh_token: 'rt1', generation: 1 });
      } finally {
        await store.close();
      }
    },
  );
});
