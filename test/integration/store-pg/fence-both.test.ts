/**
 * Issue 15 interface C on both backends: a fenced save whose record changed through another store instance
 * (another process) is refused with FencedSaveError (exit 75) inside the store's own read-modify-write, and
 * the newer record is left exactly as it was; the fenced-out pair can be set aside beside it.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FencedSaveError, saveUserTokens, setAsideFencedPair } from '../../../src/core/store/document.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { backends, type BackendInstance } from './backends.js';

beforeAll(requireBuild);
const { skip: skipPg, cluster } = usePgCluster();

const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });
const EMAIL = 'a@example.com';

describe.each(backends(cluster))('$name store: the fenced save', (backend) => {
  const skip = backend.name === 'postgres' && skipPg;
  let b: BackendInstance;
  beforeEach(async () => {
    if (!skip) b = await backend.create();
  });
  afterEach(async () => {
    if (!skip) await b.cleanup();
  });

  it.skipIf(skip)(
    'refuses to save over a record another instance rotated meanwhile, and keeps that record',
    async () => {
      const mine = b.open();
      const other = b.open();
      try {
        await mine.update((d) => saveUserTokens(d, EMAIL, pair(1), undefined, Date.now()));
        await mine.read(); // this instance's view: rt1
        await other.update((d) =>
          saveUserTokens(d, EMAIL, pair(2), undefined, Date.now(), { fence: { refreshToken: 'rt1' } }),
        );
        const err = await mine
          .update((d) => saveUserTokens(d, EMAIL, pair(3), undefined, Date.now(), { fence: { refreshToken: 'rt1' } }))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FencedSaveError);
        expect(err).toMatchObject({ code: 'E_FENCED', exitCode: 75 });
        expect((await other.read()).users[EMAIL]).toMatchObject({
          access_token: 'at2',
          refresh_token: 'rt2',
          generation: 2,
        });
        await mine.update((d) => setAsideFencedPair(d, EMAIL, pair(3), 1, Date.now()));
        expect((await other.read()).users[EMAIL]).toMatchObject({
          refresh_token: 'rt2',
          refresh_fenced_out: { refresh_token: 'rt3' },
        });
      } finally {
        await Promise.all([mine.close(), other.close()]);
      }
    },
  );
});
