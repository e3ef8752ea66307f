/** Issue 15 interface C at the document level: the fenced save, the set-aside pair, owner-only marker clearing. */
import { describe, expect, it } from 'vitest';
import {
  accessTokenLifetimeSeconds,
  clearInFlight,
  FencedSaveError,
  markInFlight,
  saveUserTokens,
  setAsideFencedPair,
} from '../../../src/core/store/document.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { StoreError } from '../../../src/errors.js';

const T0 = Date.UTC(2026, 10, 26, 12);
const pair = (n: number, expiresIn = 3600) => ({ accessToken: `AT${n}`, refreshToken: `RT${n}`, expiresIn });
const docWith = (): StoreDocument => {
  const doc: StoreDocument = { version: 1, users: {} };
  saveUserTokens(doc, 'a@x.com', pair(1), undefined, T0);
  return doc;
};

describe('saveUserTokens with a fence', () => {
  it('saves when the record still holds the fenced refresh token', () => {
    const doc = docWith();
    expect(saveUserTokens(doc, 'a@x.com', pair(2), undefined, T0, { fence: { refreshToken: 'RT1' } })).toMatchObject({
      refresh_token: 'RT2',
      generation: 2,
    });
  });

  it('throws FencedSaveError (E_FENCED, a StoreError with exit 75) and changes nothing when it does not', () => {
    const doc = docWith();
    const before = structuredClone(doc);
    const err = (() => {
      try {
        saveUserTokens(doc, 'a@x.com', pair(3), undefined, T0, { fence: { refreshToken: 'RT0' } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FencedSaveError);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'E_FENCED', exitCode: 75 });
    expect(doc).toEqual(before);
  });

  it('throws for a removed record rather than bringing it back', () => {
    const doc: StoreDocument = { version: 1, users: {} };
    expect(() => saveUserTokens(doc, 'a@x.com', pair(2), undefined, T0, { fence: { refreshToken: 'RT1' } })).toThrow(
      FencedSaveError,
    );
    expect(doc.users).toEqual({});
  });
});

describe('setAsideFencedPair', () => {
  it('keeps the pair beside the record without touching its own tokens; nothing for a removed user', () => {
    const doc = docWith();
    expect(setAsideFencedPair(doc, 'a@x.com', pair(9), 1, T0)).toBe(true);
    expect(doc.users['a@x.com']).toMatchObject({
      access_token: 'AT1',
      refresh_token: 'RT1',
      refresh_fenced_out: { refresh_token: 'RT9', from_generation: 1 },
    });
    expect(setAsideFencedPair(doc, 'b@x.com', pair(9), 1, T0)).toBe(false);
    expect(doc.users['b@x.com']).toBeUndefined();
  });
});

describe('unknown access-token life and owner-only marker clearing', () => {
  it('expires_in 0 (unknown) counts as expired at receipt', () => {
    expect(accessTokenLifetimeSeconds(0)).toBe(0);
    const rec = saveUserTokens({ version: 1, users: {} }, 'a@x.com', pair(1, 0), undefined, T0);
    expect(rec.access_token_expires_at).toBe(formatTimestamp(T0));
  });

  it("clearInFlight with an owner clears only that owner's marker", () => {
    const doc = docWith();
    markInFlight(doc, 'a@x.com', { pid: 1, host: 'h' }, T0);
    clearInFlight(doc, 'a@x.com', { pid: 2, host: 'h', since: formatTimestamp(T0) });
    expect(doc.users['a@x.com']!.refresh_in_flight).toBeDefined();
    clearInFlight(doc, 'a@x.com', { pid: 1, host: 'h', since: formatTimestamp(T0) });
    expect(doc.users['a@x.com']!.refresh_in_flight).toBeUndefined();
  });
});
