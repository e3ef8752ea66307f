/**
 * renderMetrics (core/health/metrics.ts, issue 18): the Prometheus text exposition format with HELP and
 * TYPE lines, every connection state present (0 when none), label values escaped (\\, \", \n), no token;
 * promtool accepts it.
 */
import { describe, expect, it } from 'vitest';
import { metricsInputFrom, renderMetrics } from '../../../src/core/health/metrics.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { promtoolCheck, promtoolMissing } from '../../helpers/promtool.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function doc(): StoreDocument {
  const base = {
    access_token: 'AT-secret-aaaaaaaaaaaaaaaaaaaaaaaaaa',
    refresh_token: 'RT-secret-bbbbbbbbbbbbbbbbbbbbbbbbbb',
    connected_at: iso(NOW - 30 * 86_400_000),
    updated_at: iso(NOW - 3_600_000),
  };
  return {
    version: 1,
    users: {
      'alice@example.com': {
        ...base,
        access_token_expires_at: iso(NOW + 1_800_000),
        refresh_token_issued_at: iso(NOW - 2 * 86_400_000),
      },
      'bob@example.com': {
        ...base,
        access_token_expires_at: iso(NOW - 60_000),
        refresh_token_issued_at: iso(NOW - 9 * 86_400_000),
        needs_reconnect: { reason: 'refresh_token_invalid', message: 'm', at: iso(NOW) },
      },
      'q"uo\\te\nx@example.com': { ...base, access_token_expires_at: iso(NOW), refresh_token_issued_at: iso(NOW) },
    },
  };
}

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('renderMetrics', () => {
  const text = renderMetrics(
    metricsInputFrom(doc(), NOW, {
      totals: { refreshed: 5, skipped: 40, dead: 1, temporary: 2, failed: 0 },
      lastRunMs: NOW,
    }),
  );

  it('has HELP and TYPE for every metric, and every state even when 0', () => {
    for (const [name, type] of [
      ['box_qc_connections', 'gauge'],
      ['box_qc_refresh_token_age_seconds', 'gauge'],
      ['box_qc_access_token_expiry_timestamp_seconds', 'gauge'],
      ['box_qc_refresh_total', 'counter'],
      ['box_qc_last_run_timestamp_seconds', 'gauge'],
    ]) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
    expect(sample(text, 'box_qc_connections', '{state="healthy"}')).toBe(2);
    expect(sample(text, 'box_qc_connections', '{state="dead"}')).toBe(1);
    expect(sample(text, 'box_qc_connections', '{state="degraded"}')).toBe(0);
    expect(sample(text, 'box_qc_connections', '{state="expiring"}')).toBe(0);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('per user: refresh token age and access token expiry, in seconds', () => {
    expect(sample(text, 'box_qc_refresh_token_age_seconds', '{email="alice@example.com"}')).toBe(2 * 86_400);
    expect(sample(text, 'box_qc_refresh_token_age_seconds', '{email="bob@example.com"}')).toBe(9 * 86_400);
    expect(sample(text, 'box_qc_access_token_expiry_timestamp_seconds', '{email="alice@example.com"}')).toBe(
      (NOW + 1_800_000) / 1000,
    );
    expect(sample(text, 'box_qc_last_run_timestamp_seconds')).toBe(NOW / 1000);
    expect(sample(text, 'box_qc_refresh_total', '{result="refreshed"}')).toBe(5);
    expect(sample(text, 'box_qc_refresh_total', '{result="skipped"}')).toBe(40);
    expect(sample(text, 'box_qc_refresh_total', '{result="dead"}')).toBe(1);
    expect(sample(text, 'box_qc_refresh_total', '{result="temporary"}')).toBe(2);
  });

  it('escapes label values as the exposition format says, and holds no token', () => {
    expect(text).toContain('{email="q\\"uo\\\\te\\nx@example.com"}');
    expect(text).not.toContain('secret');
  });

  it('without run counts (serve /metrics): no refresh_total, no last run; states still all present', () => {
    const t = renderMetrics(metricsInputFrom(doc(), NOW));
    expect(t).not.toContain('box_qc_refresh_total');
    expect(t).not.toContain('box_qc_last_run_timestamp_seconds');
    expect(sample(t, 'box_qc_connections', '{state="expiring"}')).toBe(0);
  });

  it('an empty store: states all 0, no per-user samples, HELP and TYPE still there', () => {
    const t = renderMetrics(metricsInputFrom({ version: 1, users: {} }, NOW, { totals: {}, lastRunMs: NOW }));
    expect(sample(t, 'box_qc_connections', '{state="healthy"}')).toBe(0);
    expect(t).toContain('# TYPE box_qc_refresh_token_age_seconds gauge');
    expect(sample(t, 'box_qc_refresh_total', '{result="dead"}')).toBe(0);
  });

  it.skipIf(promtoolMissing())('passes promtool check metrics', () => {
    for (const t of [text, renderMetrics(metricsInputFrom({ version: 1, users: {} }, NOW))]) {
      const r = promtoolCheck(t);
      expect(r.status, `${r.output}\n${t}`).toBe(0);
      expect(r.output).toBe('');
    }
  });
});
