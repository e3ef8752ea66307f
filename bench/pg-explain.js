#!/usr/bin/env node
// bench/pg-explain (issue 20): the plan of every statement the PostgreSQL store runs for one user, on a
// throwaway cluster holding `users` rows (default 100,000): each must read one row through the primary key
// (box_qc_tokens_pkey), never scan the table. Statements come from the build (dist/.../postgres/scoped.ts
// PER_USER_SQL); the save's upsert is writeChanges' statement (postgres/sql.ts), copied here. Needs the build.
// Usage: node bench/pg-explain.js [users=100000]
import pg from 'pg';
import { baseEnv, boxQc, check, emitResult, tempDir } from './lib/common.js';
import { findPgBinaries, startPgCluster } from './lib/pg-cluster.js';

if (!findPgBinaries()) {
  console.log('pg-explain: skipped: no PostgreSQL server binaries (initdb, postgres) here; see .ci/pg-setup.sh');
  emitResult({ name: 'pg-explain', skipped: true });
  process.exit(0);
}

const users = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const { PER_USER_SQL } = await import('../dist/core/store/postgres/scoped.js');
const E = 'user00042@example.com';
const statements = [
  ['readUser (token, status --email, the reads under the user lock)', PER_USER_SQL.readUser, [E]],
  ['lockRows (a one-user update: its rows FOR UPDATE)', PER_USER_SQL.lockRows, [[E]]],
  ['readMeta (the top-level fields beside them)', PER_USER_SQL.readMeta, []],
  [
    "upsert (writeChanges: the user's changed row)",
    `INSERT INTO box_qc_tokens AS t (email, generation, updated_at, record)
     SELECT e, g, coalesce(u, now()), r FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::jsonb[]) AS x(e, g, u, r)
     ON CONFLICT (email) DO UPDATE SET generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at, record = EXCLUDED.record
     WHERE t.generation <= EXCLUDED.generation RETURNING email`,
    [[E], [1], [new Date()], [JSON.stringify({ x: 1 })]],
  ],
  ['delete (disconnect --email)', 'DELETE FROM box_qc_tokens WHERE email = ANY($1::text[])', [[E]]],
  ['nextPage (status --json: one keyset page)', PER_USER_SQL.nextPage, ['user50000@example.com', 1000]],
];

const cluster = await startPgCluster();
const { dir, cleanup } = tempDir('pg-explain');
let bad = 0;
try {
  const url = await cluster.createDatabase('explain');
  check(await boxQc(['store', 'init'], baseEnv(dir, { BOX_QC_STORE: url })), 'store init');
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  await c.query(
    `INSERT INTO box_qc_tokens (email, record)
     SELECT 'user' || lpad(i::text, 5, '0') || '@example.com', jsonb_build_object('access_token', 'a', 'refresh_token', 'r')
       FROM generate_series(0, $1::int - 1) AS i`,
    [users],
  );
  await c.query('ANALYZE box_qc_tokens');
  console.log(
    `EXPLAIN of the one-user statements, box_qc_tokens holding ${users} rows (PostgreSQL ${(await c.query('SHOW server_version')).rows[0].server_version})`,
  );
  for (const [name, sql, params] of statements) {
    // EXPLAIN (no ANALYZE) plans without running: the upsert and the delete change nothing.
    const plan = (await c.query(`EXPLAIN (COSTS OFF) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']);
    const text = plan.join('\n');
    const scan = /Seq Scan on box_qc_tokens/.test(text);
    const usesKey =
      /box_qc_tokens_pkey/.test(text) || !/box_qc_tokens/.test(sql.replace(/INSERT INTO box_qc_tokens/, ''));
    if (scan || !usesKey) bad += 1;
    console.log(`\n-- ${name}: ${scan ? 'SEQUENTIAL SCAN' : usesKey ? 'primary key' : 'no primary key'}`);
    for (const line of plan) console.log(`   ${line}`);
  }
  await c.end();
} catch (err) {
  console.error(`pg-explain: ${err.message}`);
  bad += 1;
} finally {
  await cluster.stop();
  cleanup();
}
console.log(bad === 0 ? '\nevery one-user statement reads through the primary key' : `\n${bad} statement(s) do not`);
emitResult({ name: 'pg-explain', users, statements: statements.length, bad });
process.exitCode = bad === 0 ? 0 : 1;
