import { describe, expect, it } from 'vitest';
import {
  clearInFlight,
  emptyDocument,
  getUser,
  markInFlight,
  markNeedsReconnect,
  removeUser,
  saveUserTokens,
} from '../../../src/core/store/index.js';

const T0 = Date.UTC(2026, 10, 26, 15, 0, 0);
const pair = (n: number, expiresIn = 3895) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn });
const identity = { id: '42', login: 'alice.box@example.com', name: 'Alice' };

describe('saveUserTokens', () => {
  it('sets the expiry to receipt + expires_in - 60 s, never assuming 3600', () => {
    const doc = emptyDocument();
    const rec = saveUserTokens(doc, 'alice@example.com', pair(1, 3895), identity, T0);
    expect(rec.access_token_expires_at).toBe('2026-11-26T16:03:55Z');
  });

  it('never sets an expiry closer than 60 s', () => {
    const rec = saveUserTokens(emptyDocument(), 'a@x.com', pair(1, 30), undefined, T0);
    expect(rec.access_token_expires_at).toBe('2026-11-26T15:01:00Z');
  });

  it('keys by the trimmed, lower-cased email', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, '  Alice@Example.COM ', pair(1), identity, T0);
    expect(Object.keys(doc.users)).toEqual(['alice@example.com']);
    expect(getUser(doc, 'ALICE@example.com')?.access_token).toBe('at1');
  });

  it('keeps connected_at, identity and unknown fields on a later save, bumps generation, sets updated_at', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, 'a@x.com', pair(1), identity, T0);
    doc.users['a@x.com']!.qc_team = 'line-3';
    const later = T0 + 3_600_000;
    const rec = saveUserTokens(doc, 'a@x.com', pair(2), undefined, later);
    expect(rec).toMatchObject({
      access_token: 'at2',
      refresh_token: 'rt2',
      connected_at: '2026-11-26T15:00:00Z',
      updated_at: '2026-11-26T16:00:00Z',
      refresh_token_issued_at: '2026-11-26T16:00:00Z',
      box_user_id: '42',
      box_user_login: 'alice.box@example.com',
      box_user_name: 'Alice',
      qc_team: 'line-3',
      generation: 2,
    });
  });

  it('replaces the identity when one is given and clears the reconnect and in-flight markers', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, 'a@x.com', pair(1), identity, T0);
    markInFlight(doc, 'a@x.com', { pid: 7, host: 'h' }, T0);
    markNeedsReconnect(doc, 'a@x.com', 'refresh_token_invalid', 'Box rejected the refresh token', T0);
    markInFlight(doc, 'a@x.com', { pid: 7, host: 'h' }, T0);
    const rec = saveUserTokens(doc, 'a@x.com', pair(2), { id: '43', login: 'b@x.com', name: 'B' }, T0);
    expect(rec.needs_reconnect).toBeUndefined();
    expect(rec.refresh_in_flight).toBeUndefined();
    expect(rec.box_user_id).toBe('43');
  });
});

describe('markers and removal', () => {
  it('markNeedsReconnect keeps the tokens and records reason and time', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, 'a@x.com', pair(1), identity, T0);
    const rec = markNeedsReconnect(doc, 'a@x.com', 'refresh_token_expired', 'expired', T0);
    expect(rec).toMatchObject({
      refresh_token: 'rt1',
      needs_reconnect: { reason: 'refresh_token_expired', message: 'expired', at: '2026-11-26T15:00:00Z' },
    });
    expect(markNeedsReconnect(doc, 'nobody@x.com', 'refresh_token_expired', 'x', T0)).toBeUndefined();
  });

  it('markInFlight records pid, host and the starting generation; clearInFlight removes it', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, 'a@x.com', pair(1), identity, T0);
    const before = doc.users['a@x.com'];
    expect(markInFlight(doc, 'a@x.com', { pid: 9, host: 'box' }, T0)?.refresh_in_flight).toEqual({
      since: '2026-11-26T15:00:00Z',
      pid: 9,
      host: 'box',
      generation: 1,
    });
    expect(before?.refresh_in_flight).toBeUndefined(); // replaced, not edited in place
    expect(clearInFlight(doc, 'a@x.com')?.refresh_in_flight).toBeUndefined();
  });

  it('removeUser reports whether a record was removed', () => {
    const doc = emptyDocument();
    saveUserTokens(doc, 'a@x.com', pair(1), identity, T0);
    expect(removeUser(doc, ' A@x.com')).toBe(true);
    expect(removeUser(doc, 'a@x.com')).toBe(false);
  });
});
