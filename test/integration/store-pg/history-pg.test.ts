/**
 * Issue 18 "History" on a PostgreSQL store: the `box_qc_history` table is created with the schema (and added
 * to a store created before it existed), connect / refresh / disconnect each insert one row with the process
 * facts and Box's request id and never a token, and `box-qc history` reads them back. Built binary, emulator.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, consent } from '../../e2e/connect-helpers.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { openPg, startPgLab } from './pg-lab.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
});
afterEach(async () => emu.close());

async function connect(env: Record<string, string>, issued: string[]): Promise<void> {
  const first = await runCli(['connect', '--email', EMAIL, '--print-url'], { env, timeoutMs: 60_000 });
  expect(first.code, describeResult(first)).toBe(0);
  const location = await consent(first.stdout.trim());
  issued.push(new URL(location).searchParams.get('code') ?? '');
  const second = await runCli(['connect', '--email', EMAIL, '--redirected-url', location], { env, timeoutMs: 60_000 });
  expect(second.code, describeResult(second)).toBe(0);
}

function note(issued: string[]): void {
  const t = emu.latestTokens(EMAIL);
  if (t) issued.push(t.access_token, t.refresh_token);
}

describe.skipIf(skip)('history on a PostgreSQL store', () => {
  it('connect, refresh and disconnect each insert one row; history --json reads them; no token in any row', async () => {
    const db = await cluster().createDatabase();
    const env = { ...emu.env(), BOX_QC_STORE: db.b, BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback' };
    const issued: string[] = [CLIENT_SECRET, cluster().password];
    await connect(env, issued);
    note(issued);
    const r = await runCli(['refresh', '--force', '--email', EMAIL], { env, timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    note(issued);
    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 502, times: 1 });
    const t = await runCli(['refresh', '--force', '--email', EMAIL], { env, timeoutMs: 60_000 });
    expect(t.code, describeResult(t)).toBe(75);
    const d = await runCli(['disconnect', '--email', EMAIL], { env, timeoutMs: 60_000 });
    expect(d.code, describeResult(d)).toBe(0);

    const rows = await cluster().query(
      db.name,
      'SELECT time, event, email, host, pid, os_user, command, outcome, box_request_id, detail FROM box_qc_history ORDER BY id',
    );
    expect(rows.rows.map((row) => [row.event, row.outcome, row.command])).toEqual([
      ['connect', 'connected', 'connect'],
      ['refresh', 'refreshed', 'refresh'],
      ['transition', 'degraded', 'refresh'],
      ['refresh', 'temporary', 'refresh'],
      ['disconnect', 'revoked', 'disconnect'],
    ]);
    for (const row of rows.rows) {
      expect(row).toMatchObject({ email: EMAIL, host: expect.any(String), pid: expect.any(Number) });
      expect(row.time).toBeInstanceOf(Date);
    }
    expect(rows.rows[0]!.box_request_id).toMatch(/^[a-z0-9]+$/);
    expect(rows.rows[3]!.detail).toContain('HTTP 502');
    const dump = JSON.stringify(rows.rows);
    for (const s of issued) if (s) expect(dump.includes(s), `leaked ${s.slice(0, 6)}…`).toBe(false);

    const h = await runCli(['history', '--email', EMAIL, '--since', '1d', '--json'], { env, timeoutMs: 60_000 });
    expect(h.code, describeResult(h)).toBe(0);
    const events = (JSON.parse(h.stdout) as { events: Array<Record<string, unknown>> }).events;
    expect(events.map((e) => e.outcome)).toEqual(['connected', 'refreshed', 'degraded', 'temporary', 'revoked']);
    expect(events[0]).toMatchObject({ event: 'connect', email: EMAIL, command: 'connect' });
    expect(events[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const text = await runCli(['history'], { env, timeoutMs: 60_000 });
    expect(text.code, describeResult(text)).toBe(0);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(5);
    expect(`${h.stdout}${h.stderr}${text.stdout}${text.stderr}`).not.toContain(cluster().password);
  }, 120_000);

  it('store init creates the table and its (email, time) index; a store created before it gets it on first use', async () => {
    const db = await cluster().createDatabase();
    const s = openPg(db.a);
    expect(await s.init()).toBe(true);
    await s.close();
    const idx = await cluster().query(db.name, "SELECT indexdef FROM pg_indexes WHERE tablename = 'box_qc_history'");
    expect(idx.rows.map((r) => r.indexdef as string).join('\n')).toMatch(/\(email, "?time"?\)/);

    await cluster().query(db.name, 'DROP TABLE box_qc_history');
    const m = emu.mint({ login: EMAIL });
    const seed = openPg(db.a);
    await seed.update((doc) => {
      doc.users[EMAIL] = {
        access_token: m.access_token,
        refresh_token: m.refresh_token,
        access_token_expires_at: new Date(Date.now() + 3_000_000).toISOString(),
        connected_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      };
    });
    await seed.close();
    const env = { ...emu.env(), BOX_QC_STORE: db.a };
    const r = await runCli(['refresh', '--force', '--email', EMAIL], { env, timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    const rows = await cluster().query(db.name, 'SELECT event, outcome FROM box_qc_history');
    expect(rows.rows).toEqual([{ event: 'refresh', outcome: 'refreshed' }]);
  }, 120_000);

  it('refresh --all over 24 users records one row per user, whatever the fan-out', async () => {
    const pl = await startPgLab(cluster());
    try {
      const logins = Array.from({ length: 24 }, (_, i) => `u${i}@example.com`);
      await pl.mintAndSeed(logins, { expired: true });
      const r = await pl.lab.cli(['refresh', '--all', '--concurrency', '8'], { BOX_QC_STORE: pl.db.b });
      expect(r.code, describeResult(r)).toBe(0);
      const rows = await cluster().query(pl.db.name, 'SELECT email, outcome FROM box_qc_history ORDER BY email');
      expect(rows.rows.map((row) => row.email as string).sort()).toEqual([...logins].sort());
      expect(new Set(rows.rows.map((row) => row.outcome))).toEqual(new Set(['refreshed']));
    } finally {
      await pl.close();
    }
  }, 120_000);
});
