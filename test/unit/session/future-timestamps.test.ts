/**
 * REVIEW-1 finding 7c: timestamps from the future are not trusted. With the clock ahead when a pair was saved
 * (a VM resumed with a bad clock, NTP stepping back), old code skipped the user until the bad expiry or
 * issue time came round: maybe past Box's 60-day cliff. Box's access tokens live ~1 h and expires_in above
 * MAX_PLAUSIBLE_EXPIRES_IN_S is not believed, so an expiry further ahead than that (plus clock skew) or an
 * issue time in the future means the clock was wrong: the user is due for a refresh.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PLAUSIBLE_EXPIRES_IN_S } from '../../../src/core/oauth/token-endpoint.js';
import { getValidAccessToken, refreshReason } from '../../../src/core/session.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import { EMAIL, NOW, pair, sessionKit, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const H = 3_600_000;
const fresh = (over = {}) =>
  user({
    access_token_expires_at: formatTimestamp(NOW + 50 * 60_000),
    refresh_token_issued_at: formatTimestamp(NOW - 10 * 60_000),
    ...over,
  });

describe('future timestamps count as due', () => {
  it('an access token "valid" for 3 more hours is due (Box\'s live ~1 h)', () => {
    expect(refreshReason(fresh({ access_token_expires_at: formatTimestamp(NOW + 3 * H) }), NOW, {})).toBeDefined();
  });

  it('an access token valid for a year (clock far ahead when saved) is due', () => {
    expect(
      refreshReason(fresh({ access_token_expires_at: formatTimestamp(NOW + 365 * 24 * H) }), NOW, {}),
    ).toBeDefined();
  });

  it('a refresh token issued 1 h in the future is due, with or without --max-age', () => {
    const u = fresh({ refresh_token_issued_at: formatTimestamp(NOW + H) });
    expect(refreshReason(u, NOW, {})).toBeDefined();
    expect(refreshReason(u, NOW, { maxAgeMs: 7 * 24 * H })).toBeDefined();
  });

  it('a few seconds of clock skew between hosts is not "the future"', () => {
    expect(refreshReason(fresh({ refresh_token_issued_at: formatTimestamp(NOW + 30_000) }), NOW, {})).toBeUndefined();
  });

  it('a pair just saved with the longest believed expires_in is fresh, not "from the future" (no refresh churn)', () => {
    const doc = { version: 1 as const, users: { [EMAIL]: fresh() } };
    const saved = saveUserTokens(
      doc,
      EMAIL,
      { accessToken: 'AT2', refreshToken: 'RT2', expiresIn: MAX_PLAUSIBLE_EXPIRES_IN_S },
      undefined,
      NOW,
    );
    expect(refreshReason(saved, NOW, {})).toBeUndefined();
    expect(refreshReason(saved, NOW + 60_000, { maxAgeMs: 7 * 24 * H })).toBeUndefined();
  });

  it('getValidAccessToken refreshes a record whose expiry is 3 h ahead instead of handing its token out', async () => {
    const { store, session } = await sessionKit(
      fresh({ access_token_expires_at: formatTimestamp(NOW + 3 * H) }),
      [pair(2)],
      cleanups,
    );
    await expect(getValidAccessToken(session, EMAIL)).resolves.toMatchObject({ accessToken: 'AT2', refreshed: true });
    expect(store.doc.users[EMAIL]).toMatchObject({ refresh_token: 'RT2' });
  });
});
