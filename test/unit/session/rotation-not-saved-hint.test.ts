/**
 * REVIEW-2 finding 7: another writer rewrote the store with something box-qc refuses (a corrupt file, an
 * invalid record, PostgreSQL's newer-generation guard) while our POST was out, so every save attempt fails
 * the same way. No rescue file (session-save.ts says why); the final error must instead say exactly what to
 * do: which store to repair, that the pair Box just sent is gone, and the two commands that recover the user.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../src/core/session.js';
import { OperationError, StoreError } from '../../../src/errors.js';
import { EMAIL, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const CASES: Array<[string, () => unknown]> = [
  [
    'the file rewritten invalid',
    () =>
      new StoreError(
        'E_STORE_CORRUPT',
        '/s/tokens.json',
        'token store /s/tokens.json is unreadable: users["a@x.com"].box_user_id must be a string',
      ),
  ],
  [
    'PostgreSQL newer-generation guard',
    () =>
      new OperationError(
        'E_STORE_NEWER',
        'postgres://db/boxqc: a newer record for a@x.com is already stored; not overwritten',
      ),
  ],
];

describe('E_ROTATION_NOT_SAVED when the store content itself refuses the save (REVIEW-2 #7)', () => {
  for (const [name, make] of CASES) {
    it(`${name}: the hint names the repair, the lost pair, refresh --email once, then connect --email`, async () => {
      const k = await sessionKit(user(), [pair(2)], cleanups, { saveBudgetMs: 150 });
      const update = k.store.update.bind(k.store);
      let calls = 0;
      k.store.update = async (m, o) => {
        if (++calls >= 2) throw make();
        return update(m, o);
      };
      const err = (await getValidAccessToken(k.session, EMAIL, { force: true }).catch((e: unknown) => e)) as {
        code: string;
        hint?: string;
        message: string;
      };
      expect(err.code).toBe('E_ROTATION_NOT_SAVED');
      expect(err.message).toMatch(/changed|cannot use|refused/);
      expect(err.hint).toMatch(/repair|restore/);
      expect(err.hint).toMatch(/gone|lost/);
      expect(err.hint).toContain(`box-qc refresh --email ${EMAIL}`);
      expect(err.hint).toContain(`box-qc connect --email ${EMAIL}`);
    });
  }
});
