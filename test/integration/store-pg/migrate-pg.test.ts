/**
 * Issue 9: `box-qc store migrate` copies every user between a file and PostgreSQL in one transaction,
 * round-trips 1,000 users without loss (file -> PostgreSQL -> file, deep-equal, unknown fields included),
 * and never replaces a newer record (generation, then updated_at). Runs the built binary.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeResult, runCli, type CliResult } from '../../helpers/run-cli.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { iso } from '../../helpers/time.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 1);

function user(n: number, generation: number, updatedAt = T0, extra: Record<string, unknown> = {}) {
  return {
    access_token: `at-${n}-${generation}`,
    refresh_token: `rt-${n}-${generation}`,
    access_token_expires_at: iso(updatedAt + 3_600_000),
    connected_at: iso(T0 - 86_400_000),
    updated_at: iso(updatedAt),
    generation,
    box_user_login: `u${n}@box`,
    ...extra,
  };
}

function writeStore(path: string, users: Record<string, unknown>, top: Record<string, unknown> = {}) {
  writeFileSync(path, `${JSON.stringify({ version: 1, ...top, users }, null, 2)}\n`, { mode: 0o600 });
}

function migrate(from: string, to: string, json = true): Promise<CliResult> {
  return runCli([...(json ? ['--json'] : []), 'store', 'migrate', '--from', from, '--to', to], { timeoutMs: 60_000 });
}

describe.skipIf(skip)('store migrate', () => {
  it('round-trips 1,000 users file -> PostgreSQL -> file without loss, then finds everything unchanged', async () => {
    const db = await cluster().createDatabase();
    const users: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) {
      const extra: Record<string, unknown> = { python_field: { i, tags: ['qc', `n${i}`], ratio: i / 7 } };
      if (i % 10 === 0)
        extra.needs_reconnect = { reason: 'refresh_token_invalid', message: 'Box rejected it', at: iso(T0) };
      if (i % 17 === 0) extra.refresh_in_flight = { since: iso(T0), pid: 4242, host: 'worker-2', generation: i % 5 };
      if (i % 3 === 0) extra.box_user_name = `Ünïcødé ${i} "quoted" \\ back`;
      users[`qc${String(i).padStart(4, '0')}@example.com`] = user(i, (i % 9) + 1, T0 + i * 1000, extra);
    }
    const src = join(dir, 'tokens.json');
    writeStore(src, users, { backend_meta: { written_by: 'python', schema: [1, 2] } });

    const there = await migrate(src, db.a);
    expect(there.code, describeResult(there)).toBe(0);
    expect(JSON.parse(there.stdout).summary).toEqual({
      copied: 1000,
      unchanged: 0,
      skipped_newer: 0,
      skipped_conflict: 0,
      total: 1000,
    });

    const back = join(dir, 'back', 'tokens.json');
    const home = await migrate(db.b, back);
    expect(home.code, describeResult(home)).toBe(0);
    expect(JSON.parse(home.stdout).summary.copied).toBe(1000);
    expect(`${there.stdout}${home.stdout}${home.stderr}`).not.toContain(cluster().password);
    expect(JSON.parse(readFileSync(back, 'utf8'))).toEqual(JSON.parse(readFileSync(src, 'utf8')));

    const again = await migrate(src, db.a);
    expect(JSON.parse(again.stdout).summary).toMatchObject({ copied: 0, unchanged: 1000 });
    const rows = await cluster().query<{ n: string; g: string }>(
      db.name,
      'SELECT count(*) AS n, sum(generation) AS g FROM box_qc_tokens',
    );
    expect(Number(rows.rows[0]!.n)).toBe(1000);
    expect(Number(rows.rows[0]!.g)).toBe(
      Object.values(users).reduce((s: number, u) => s + (u as { generation: number }).generation, 0),
    );
  }, 90_000);

  it('never overwrites a newer row: generation first, then updated_at; reports each user and a summary', async () => {
    const db = await cluster().createDatabase();
    const seed = join(dir, 'seed.json');
    writeStore(seed, {
      'a@example.com': user(1, 5),
      'b@example.com': user(2, 2),
      'c@example.com': user(3, 3, T0),
      'd@example.com': user(4, 3, T0 + 60_000),
      'e@example.com': user(5, 3, T0),
      'same@example.com': user(6, 1),
    });
    expect((await migrate(seed, db.a)).code).toBe(0);
    const incoming = join(dir, 'incoming.json');
    writeStore(incoming, {
      'a@example.com': user(1, 3), // older generation
      'b@example.com': user(2, 4), // newer generation
      'c@example.com': user(3, 3, T0 + 60_000), // same generation, later
      'd@example.com': user(4, 3, T0), // same generation, earlier
      'e@example.com': { ...user(5, 3, T0), access_token: 'other' }, // a tie that differs
      'same@example.com': user(6, 1),
      'new@example.com': user(7, 1),
    });
    const r = await migrate(incoming, db.a, false);
    expect(r.code, describeResult(r)).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t').slice(0, 2).join(' '));
    expect(lines).toEqual([
      'skipped_newer a@example.com',
      'copied b@example.com',
      'copied c@example.com',
      'skipped_newer d@example.com',
      'skipped_conflict e@example.com',
      'copied new@example.com',
      'unchanged same@example.com',
    ]);
    expect(r.stderr).toContain(
      '3 copied, 1 unchanged, 2 skipped (newer in destination), 1 skipped (conflict); 7 users',
    );
    const rows = await cluster().query<{ email: string; generation: string; at: string }>(
      db.name,
      `SELECT email, generation, record->>'access_token' AS at FROM box_qc_tokens ORDER BY email`,
    );
    expect(rows.rows.map((x) => [x.email, Number(x.generation), x.at])).toEqual([
      ['a@example.com', 5, 'at-1-5'],
      ['b@example.com', 4, 'at-2-4'],
      ['c@example.com', 3, 'at-3-3'],
      ['d@example.com', 3, 'at-4-3'],
      ['e@example.com', 3, 'at-5-3'],
      ['new@example.com', 1, 'at-7-1'],
      ['same@example.com', 1, 'at-6-1'],
    ]);
    const cRow = await cluster().query<{ u: string }>(
      db.name,
      `SELECT record->>'updated_at' AS u FROM box_qc_tokens WHERE email = 'c@example.com'`,
    );
    expect(cRow.rows[0]!.u).toBe(iso(T0 + 60_000));

    // And back: the file's newer record is kept too.
    writeStore(incoming, { 'a@example.com': user(1, 9) });
    const reverse = await migrate(db.a, incoming);
    expect(JSON.parse(reverse.stdout).users.find((u: { email: string }) => u.email === 'a@example.com')).toMatchObject({
      action: 'skipped_newer',
      from_generation: 5,
      to_generation: 9,
    });
    expect(JSON.parse(readFileSync(incoming, 'utf8')).users['a@example.com'].generation).toBe(9);
  }, 60_000);

  it('refuses a missing source (exit 2) and the same store on both sides (exit 2), creating nothing', async () => {
    const db = await cluster().createDatabase();
    const missing = await migrate(join(dir, 'nope.json'), db.a);
    expect(missing.code, describeResult(missing)).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'E_STORE_MISSING' } });
    const fromEmptyDb = await migrate(db.a, join(dir, 'out.json'));
    expect(fromEmptyDb.code, describeResult(fromEmptyDb)).toBe(2);
    const same = await migrate(db.a, db.a);
    expect(same.code, describeResult(same)).toBe(2);
    const tables = await cluster().query(db.name, `SELECT 1 FROM pg_tables WHERE tablename LIKE 'box_qc%'`);
    expect(tables.rowCount).toBe(0);
  });
});
