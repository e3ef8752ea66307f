/**
 * The Prometheus text exposition format for box-qc (issue 18 "Metrics"), pure: `refresh --metrics-file`
 * writes it (core/health/metrics-file.ts) for node_exporter's textfile collector, and `serve`'s
 * GET /metrics prints the same. Never a token: only emails, states, times and counts.
 *
 *   box_qc_connections{state}                         gauge, every state always present (0 when none)
 *   box_qc_refresh_token_age_seconds{email}           gauge, now - when the refresh token was issued
 *   box_qc_access_token_expiry_timestamp_seconds{email}  gauge, Unix time the access token expires
 *   box_qc_refresh_total{result}                      counter (refreshed, skipped, dead, temporary; failed when
 *                                                     any): a `_total` must be a counter (promtool rejects a gauge
 *                                                     with that suffix), so the file keeps a running total across
 *                                                     runs, each run adding its own counts (metrics-file.ts)
 *   box_qc_last_run_timestamp_seconds                 gauge, when this run finished
 *
 * Label values are escaped as the format requires: backslash, double quote and line feed
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */
import { connectionState } from './state.js';
import type { StoreDocument, StoredUser } from '../store/types.js';
import { parseTimestamp } from '../store/format.js';

export const CONNECTION_STATES = ['healthy', 'degraded', 'dead', 'expiring'] as const;
export type MetricsState = (typeof CONNECTION_STATES)[number];
export const REFRESH_RESULTS = ['refreshed', 'skipped', 'dead', 'temporary'] as const;
/** `failed` (a pair not saved, an answer we could not use) is shown only when it happened. */
export type RefreshResult = (typeof REFRESH_RESULTS)[number] | 'failed';

export interface MetricsUser {
  email: string;
  state: MetricsState;
  /** ms since the epoch; undefined when the record does not say. */
  refreshTokenIssuedAt?: number;
  accessTokenExpiresAt?: number;
}

export interface MetricsInput {
  /** ms since the epoch. */
  now: number;
  users: MetricsUser[];
  /** Running totals per result; absent (serve): no box_qc_refresh_total. */
  refreshTotals?: Partial<Record<RefreshResult, number>>;
  /** When the refresh run finished (ms); absent (serve): no box_qc_last_run_timestamp_seconds. */
  lastRunMs?: number;
}

/** The state label of one record: the connection's state as the store keeps it (core/health/state.ts). */
function stateOf(user: StoredUser, now: number): MetricsState {
  return connectionState(user, now);
}

/** The input for a store snapshot; `run` adds the refresh totals and the run's time (refresh --metrics-file). */
export function metricsInputFrom(
  doc: StoreDocument,
  now: number,
  run?: { totals: Partial<Record<RefreshResult, number>>; lastRunMs: number },
): MetricsInput {
  const users = Object.entries(doc.users)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([email, u]): MetricsUser => {
      const m: MetricsUser = { email, state: stateOf(u, now) };
      const issued = parseTimestamp(u.refresh_token_issued_at ?? u.updated_at);
      const expires = parseTimestamp(u.access_token_expires_at);
      if (issued !== undefined) m.refreshTokenIssuedAt = issued;
      if (expires !== undefined) m.accessTokenExpiresAt = expires;
      return m;
    });
  const input: MetricsInput = { now, users };
  if (run) {
    input.refreshTotals = run.totals;
    input.lastRunMs = run.lastRunMs;
  }
  return input;
}

export function renderMetrics(input: MetricsInput): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  family('box_qc_connections', 'gauge', 'Connected users by connection state.');
  for (const state of CONNECTION_STATES) {
    out.push(`box_qc_connections{state="${state}"} ${input.users.filter((u) => u.state === state).length}`);
  }
  family(
    'box_qc_refresh_token_age_seconds',
    'gauge',
    'Seconds since the refresh token was issued (Box kills it at 60 days).',
  );
  for (const u of input.users) {
    if (u.refreshTokenIssuedAt !== undefined)
      out.push(
        `box_qc_refresh_token_age_seconds{email="${escapeLabel(u.email)}"} ${seconds(input.now - u.refreshTokenIssuedAt)}`,
      );
  }
  family('box_qc_access_token_expiry_timestamp_seconds', 'gauge', 'Unix time at which the access token expires.');
  for (const u of input.users) {
    if (u.accessTokenExpiresAt !== undefined)
      out.push(
        `box_qc_access_token_expiry_timestamp_seconds{email="${escapeLabel(u.email)}"} ${seconds(u.accessTokenExpiresAt)}`,
      );
  }
  if (input.refreshTotals !== undefined) {
    const totals = input.refreshTotals;
    family('box_qc_refresh_total', 'counter', 'Users handled by refresh runs writing this file, by result.');
    const results: RefreshResult[] = [...REFRESH_RESULTS, ...((totals.failed ?? 0) > 0 ? (['failed'] as const) : [])];
    for (const r of results) out.push(`box_qc_refresh_total{result="${r}"} ${totals[r] ?? 0}`);
  }
  if (input.lastRunMs !== undefined) {
    family('box_qc_last_run_timestamp_seconds', 'gauge', 'Unix time at which the last refresh run finished.');
    out.push(`box_qc_last_run_timestamp_seconds ${seconds(input.lastRunMs)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Backslash, double quote and line feed, the three escapes of the text format's label values. */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** ms -> seconds, millisecond precision, no exponent notation. */
function seconds(ms: number): string {
  const s = Math.round(ms) / 1000;
  return Number.isFinite(s) ? String(s) : '0';
}
