/**
 * The status table (issue 21): reads well at 1 and at 200 users. Problems first (dead, expiring, degraded,
 * then an old refresh token), aligned columns, a summary line; the pipe form is one tab-separated line per
 * user with eight stable columns, every value terminal-safe.
 */
import { describe, expect, it } from 'vitest';
import { buildStatusReport } from '../../../src/core/status.js';
import type { StoreDocument, StoredUser } from '../../../src/core/store/types.js';
import { renderTable, renderTsv, statusRows, summaryLine } from '../../../src/commands/status-table.js';
import { renderReport } from '../../../src/commands/status.js';
import { reconnectCommand, shellWord } from '../../../src/core/reconnect-command.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function user(i: number, over: Partial<StoredUser> = {}): StoredUser {
  return {
    access_token: `at${i}`,
    refresh_token: `rt${i}`,
    access_token_expires_at: iso(NOW + 30 * 60_000),
    connected_at: iso(NOW - 10 * DAY),
    updated_at: iso(NOW - DAY),
    refresh_token_issued_at: iso(NOW - DAY),
    box_user_login: `user${i}@box.example`,
    generation: 3,
    ...over,
  };
}

function report(users: Record<string, StoredUser>) {
  const doc: StoreDocument = { version: 1, users };
  return buildStatusReport(
    doc,
    { location: '/s/tokens.json', exists: true, kind: 'file', mode: 0o600, dirMode: 0o700 },
    { clientIdPresent: true, clientSecretPresent: true, redirectUri: 'x', apiBaseUrl: 'y', storeSource: 'env' },
    NOW,
  );
}

const dead = (i: number) =>
  user(i, {
    needs_reconnect: { reason: 'refresh_token_invalid', message: 'Box rejected the token', at: iso(NOW - DAY) },
  });

describe('status table', () => {
  it('one user: a header, one aligned line and the summary', () => {
    const out = renderTable(statusRows(report({ 'a@example.com': user(1) }).users, false), NOW);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EMAIL\s+BOX LOGIN\s+STATE\s+ACCESS TOKEN\s+REFRESH TOKEN\s+TOKENS\s+ACTION$/);
    expect(lines[1]).toMatch(
      /^a@example\.com\s+user1@box\.example\s+healthy\s+expires in 30 min\s+1 d old, 59 d left\s+plaintext$/,
    );
    expect(lines.at(-1)).toBe('1 user: 1 healthy');
    // Columns line up: the STATE column starts at the same offset on every line.
    expect(lines[1]!.indexOf('healthy')).toBe(lines[0]!.indexOf('STATE'));
  });

  it('200 users: problems first, every line aligned, a summary that counts them', () => {
    const users: Record<string, StoredUser> = {};
    for (let i = 0; i < 200; i += 1) {
      const email = `u${String(i).padStart(3, '0')}@example.com`;
      users[email] =
        i % 50 === 7 ? dead(i) : i % 40 === 3 ? user(i, { refresh_token_issued_at: iso(NOW - 55 * DAY) }) : user(i);
    }
    const rows = statusRows(report(users).users, true);
    expect(rows.slice(0, 4).map((r) => r.state)).toEqual(['dead', 'dead', 'dead', 'dead']);
    expect(rows[0]!.action).toBe(`box-qc invite --email ${rows[0]!.email}`);
    // Then the old refresh tokens (healthy, but with an action), then the rest by email.
    expect(rows.slice(4, 9).every((r) => r.action?.startsWith('box-qc refresh'))).toBe(true);
    expect(rows[9]!.action).toBeUndefined();
    const out = renderTable(rows, NOW);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 200 + 2);
    const col = lines[0]!.indexOf('STATE');
    for (const l of lines.slice(1, 201)) expect(l.slice(col).split(' ')[0]).toMatch(/^(dead|healthy)$/);
    expect(summaryLine(rows)).toBe('200 users: 4 dead, 196 healthy, 5 with a refresh token over 50 days old');
  });

  it('the pipe form: eight tab-separated columns, absolute values, hostile bytes escaped', () => {
    const rows = statusRows(
      report({
        'a@example.com': user(1, { box_user_login: 'evil\tlogin\n\u001b[31m' }),
        'b@example.com': dead(2),
      }).users,
      false,
    );
    const lines = renderTsv(rows).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.split('\t')).toHaveLength(8);
    expect(lines[0]!.split('\t')).toEqual([
      'b@example.com',
      'user2@box.example',
      'dead',
      iso(NOW + 30 * 60_000),
      '1',
      '59',
      'plaintext',
      'box-qc connect --email b@example.com',
    ]);
    expect(lines[1]!.split('\t')[1]).toBe('evil\\tlogin\\n\\x1b[31m');
    expect(lines[1]!.split('\t')[7]).toBe('-');
  });

  it('an encrypted user shows its key id (issue 19)', () => {
    const rows = statusRows(
      report({ 'a@example.com': user(1, { refresh_token: 'enc:v1:k2:AAAA', access_token: 'enc:v1:k2:BBBB' }) }).users,
      false,
    );
    expect(rows[0]!.tokens).toBe('encrypted (key k2)');
  });
});

describe('status under its review (issue 21)', () => {
  it('a table of 150,000 rows renders (no argument-spread overflow)', () => {
    const row = statusRows(report({ 'a@example.com': user(1) }).users, false)[0]!;
    const rows = Array.from({ length: 150_000 }, (_, i) => ({ ...row, email: `u${i}@example.com` }));
    expect(renderTable(rows, NOW).split('\n').length).toBeGreaterThan(150_000);
  });

  it('a suggested command quotes an email a shell would read as code', () => {
    expect(reconnectCommand('a@example.com', false)).toBe('box-qc connect --email a@example.com');
    expect(reconnectCommand('a$(touch /tmp/pwn)@x.com', true)).toBe("box-qc invite --email 'a$(touch /tmp/pwn)@x.com'");
    expect(shellWord("o'brien;@x.com")).toBe("'o'\\''brien;@x.com'");
  });

  it('--long survives fields of the wrong type written by another tool', () => {
    const bad = user(1, {
      needs_reconnect: { reason: { toString: 1, valueOf: 1 }, message: 7, at: 5 } as never,
      refresh_in_flight: { since: 12345, pid: 'x' } as never,
      health: { state: 'degraded', since: iso(NOW - DAY), failures: 2, reason: 7 } as never,
    });
    const text = renderReport(report({ 'a@example.com': bad }), NOW);
    expect(text).toContain('NEEDS RECONNECT: ?: 7 (since 5)');
    expect(text).toContain('refresh in flight since 12345');
  });
});
