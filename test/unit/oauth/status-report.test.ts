import { describe, expect, it } from 'vitest';
import { buildStatusReport, checkExitCode, relativeTime, type UserStatus } from '../../../src/core/status.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { renderReport } from '../../../src/commands/status.js';
import { iso } from '../../helpers/time.js';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 86_400_000;
const facts = {
  clientIdPresent: true,
  clientSecretPresent: false,
  redirectUri: 'http://127.0.0.1:53117/callback',
  apiBaseUrl: 'https://api.box.com/',
  storeSource: 'default',
};
const info = {
  location: '/home/u/.config/box-qc/tokens.json',
  exists: true,
  mode: 0o100600,
  dirMode: 0o40700,
  kind: 'file' as const,
};

function doc(extra: Record<string, unknown> = {}): StoreDocument {
  return {
    version: 1,
    users: {
      'alice@example.com': {
        access_token: 'AT-SECRET',
        refresh_token: 'RT-SECRET',
        access_token_expires_at: iso(NOW + 42 * 60_000),
        connected_at: iso(NOW - 90 * DAY),
        updated_at: iso(NOW - DAY),
        refresh_token_issued_at: iso(NOW - 51 * DAY),
        box_user_id: '1',
        box_user_login: 'alice@box',
        box_user_name: 'Alice',
        ...extra,
      },
    },
  };
}

describe('status report', () => {
  it('computes expiry, rotation + 60 days and the day-50 warning, and never holds a token', () => {
    const report = buildStatusReport(doc(), info, facts, NOW);
    const u = report.users[0]!;
    expect(u.access_token).toEqual({ expires_at: iso(NOW + 42 * 60_000), expires_in_seconds: 2520, expired: false });
    expect(u.refresh_token).toMatchObject({
      rotated_at: iso(NOW - 51 * DAY),
      dies_at: iso(NOW + 9 * DAY),
      age_days: 51,
      warning: true,
      expired: false,
    });
    expect(report.config).toMatchObject({
      client_id_present: true,
      client_secret_present: false,
      store: { mode: '0600', dir_mode: '0700' },
    });
    const text = JSON.stringify(report) + renderReport(report, NOW);
    expect(text).not.toContain('AT-SECRET');
    expect(text).not.toContain('RT-SECRET');
    expect(renderReport(report, NOW)).toContain('expires in 42 min (2026-11-26T12:42:00Z)');
    expect(renderReport(report, NOW)).toContain('client secret  NOT SET (BOX_CLIENT_SECRET)');
  });

  it('falls back to updated_at for the rotation time when the writer did not record it', () => {
    const d = doc();
    delete d.users['alice@example.com']!.refresh_token_issued_at;
    const u = buildStatusReport(d, info, facts, NOW).users[0]!;
    expect(u.refresh_token).toMatchObject({ rotated_at: iso(NOW - DAY), rotated_at_estimated: true, warning: false });
  });

  it('marks an expired access token and a refresh token past 60 days', () => {
    const u = buildStatusReport(
      doc({ access_token_expires_at: iso(NOW - 1000), refresh_token_issued_at: iso(NOW - 61 * DAY) }),
      info,
      facts,
      NOW,
    ).users[0]!;
    expect(u.access_token.expired).toBe(true);
    expect(u.refresh_token.expired).toBe(true);
    expect(
      renderReport(buildStatusReport(doc({ refresh_token_issued_at: iso(NOW - 61 * DAY) }), info, facts, NOW), NOW),
    ).toContain('older than 60 days');
  });

  it('names the command that reconnects a dead connection (an invite when serve is reachable), else null', () => {
    const dead = doc({ needs_reconnect: { reason: 'refresh_token_invalid', message: 'x', at: iso(NOW) } });
    expect(buildStatusReport(doc(), info, facts, NOW).users[0]!.reconnect_command).toBeNull();
    expect(buildStatusReport(dead, info, facts, NOW).users[0]!.reconnect_command).toBe(
      'box-qc connect --email alice@example.com',
    );
    expect(
      buildStatusReport(dead, info, { ...facts, publicUrlConfigured: true }, NOW).users[0]!.reconnect_command,
    ).toBe('box-qc invite --email alice@example.com');
  });

  it('formats relative times coarsely', () => {
    expect(relativeTime(30_000)).toBe('in 30 s');
    expect(relativeTime(-42 * 60_000)).toBe('42 min ago');
    expect(relativeTime(5 * 3_600_000)).toBe('in 5 h');
    expect(relativeTime(-9 * DAY)).toBe('9 days ago');
  });

  it('--check: 4 beats 75 beats 1 beats 0', () => {
    const withCheck = (c: UserStatus['check']) => ({ check: c }) as UserStatus;
    const ok = withCheck({ ok: true, box_login: 'a' });
    const dead = withCheck({ ok: false, kind: 'dead', code: 'E', message: '' });
    const down = withCheck({ ok: false, kind: 'unreachable', code: 'E', message: '' });
    const other = withCheck({ ok: false, kind: 'error', code: 'E', message: '' });
    expect(checkExitCode([ok])).toBe(0);
    expect(checkExitCode([ok, other])).toBe(1);
    expect(checkExitCode([down, other])).toBe(75);
    expect(checkExitCode([down, dead])).toBe(4);
  });
});
