/**
 * `status` for many users (issue 21): one line per user, problems first, and a summary line. On a terminal
 * the columns are aligned and times are relative; on a pipe each user is one tab-separated line with stable
 * columns and absolute values (for awk and cut):
 *
 *   email  box_login  state  access_token_expires_at  refresh_token_age_days  refresh_token_days_left  tokens  action
 *
 * `tokens` is `plaintext` or `encrypted (key <id>)` (issue 19); `action` the command that fixes a problem, or
 * `-`. Every value is made terminal-safe (a tab or newline in a Box login cannot break a column).
 */
import { terminalSafe } from '../io/terminal-safe.js';
import { REFRESH_TOKEN_LIFETIME_DAYS, REFRESH_TOKEN_WARN_DAYS, relativeTime, type UserStatus } from '../core/status.js';
import type { HealthState } from '../core/health/types.js';
import { reconnectCommand, shellWord } from '../core/reconnect-command.js';

export const STATUS_STATES: readonly HealthState[] = ['dead', 'expiring', 'degraded', 'healthy'];

export interface StatusRow {
  email: string;
  login: string;
  state: HealthState;
  /** ISO, or null when unknown. */
  accessExpiresAt: string | null;
  accessExpired: boolean;
  refreshAgeDays: number | null;
  refreshDaysLeft: number | null;
  tokens: string;
  /** The fix for a problem, else undefined. */
  action: string | undefined;
}

const RANK: Record<HealthState, number> = { dead: 0, expiring: 1, degraded: 2, healthy: 3 };

export function statusRows(users: readonly UserStatus[], publicUrlConfigured: boolean): StatusRow[] {
  const rows = users.map((u): StatusRow => {
    const age = u.refresh_token.age_days;
    const state = u.health.state;
    const warn = age !== null && age >= REFRESH_TOKEN_WARN_DAYS;
    return {
      email: u.email,
      login: u.box_user.login ?? '?',
      state,
      accessExpiresAt: u.access_token.expires_at,
      accessExpired: u.access_token.expired,
      refreshAgeDays: age === null ? null : Math.floor(age),
      refreshDaysLeft: age === null ? null : Math.max(0, Math.floor(REFRESH_TOKEN_LIFETIME_DAYS - age)),
      tokens: u.encryption ? `encrypted (key ${u.encryption.key_id})` : 'plaintext',
      action:
        state === 'dead' || (age !== null && age >= REFRESH_TOKEN_LIFETIME_DAYS)
          ? reconnectCommand(u.email, publicUrlConfigured)
          : warn || state !== 'healthy'
            ? `box-qc refresh --email ${shellWord(u.email)}`
            : undefined,
    };
  });
  // Problems first (dead, expiring, degraded), then an old refresh token, then by email.
  const key = (r: StatusRow) => RANK[r.state] * 2 + (r.action === undefined ? 1 : 0);
  return rows.sort((a, b) => key(a) - key(b) || (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
}

/** The pipe form: one tab-separated line per user, no header, absolute values. */
export function renderTsv(rows: readonly StatusRow[]): string {
  const cell = (v: string | number | null | undefined) =>
    v === null || v === undefined ? '-' : terminalSafe(String(v));
  return rows
    .map(
      (r) =>
        [r.email, r.login, r.state, r.accessExpiresAt, r.refreshAgeDays, r.refreshDaysLeft, r.tokens, r.action]
          .map(cell)
          .join('\t') + '\n',
    )
    .join('');
}

/** The terminal form: a header, aligned columns, relative times, and the summary line. */
export function renderTable(rows: readonly StatusRow[], now: number): string {
  const header = ['EMAIL', 'BOX LOGIN', 'STATE', 'ACCESS TOKEN', 'REFRESH TOKEN', 'TOKENS', 'ACTION'];
  const body = rows.map((r) => [
    r.email,
    r.login,
    r.state,
    r.accessExpiresAt === null
      ? 'unknown'
      : r.accessExpired
        ? 'expired'
        : `expires ${relativeTime(Date.parse(r.accessExpiresAt) - now)}`,
    r.refreshAgeDays === null ? 'unknown' : `${r.refreshAgeDays} d old, ${r.refreshDaysLeft} d left`,
    r.tokens,
    r.action ?? '',
  ]);
  const cells = [header, ...body].map((row) => row.map((c) => terminalSafe(c)));
  // A loop, not Math.max(...): 150,000 rows as arguments overflow the call stack (review of issue 21, #2).
  const widths = header.map((_, i) => cells.reduce((w, row) => Math.max(w, columns(row[i]!)), 0));
  const lines = cells.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c + ' '.repeat(widths[i]! - columns(c))))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n\n${summaryLine(rows)}\n`;
}

export function summaryLine(rows: readonly StatusRow[]): string {
  const counts = STATUS_STATES.map((s) => [s, rows.filter((r) => r.state === s).length] as const).filter(
    ([, n]) => n > 0,
  );
  const old = rows.filter((r) => r.refreshAgeDays !== null && r.refreshAgeDays >= REFRESH_TOKEN_WARN_DAYS).length;
  const parts = counts.map(([s, n]) => `${n} ${s}`);
  if (old > 0) parts.push(`${old} with a refresh token over ${REFRESH_TOKEN_WARN_DAYS} days old`);
  return `${rows.length} user${rows.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** Terminal columns of a cell, counted in code points (an emoji in a Box login is one, not two UTF-16 units). */
function columns(text: string): number {
  return Array.from(text).length;
}
