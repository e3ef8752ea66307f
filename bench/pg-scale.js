#!/usr/bin/env node
// bench/pg-scale (issue 20): what one user costs on a PostgreSQL store of 10 users vs 100,000, on a throwaway
// cluster started here (bench/lib/pg-cluster.js). Filler users are bulk-loaded with one INSERT ... SELECT
// generate_series (made-up tokens: the commands below never send them); the measured user has a real pair.
// Interleaved runs over every size, medians:
//   token --email E (fresh token)         target: biggest within 1.2x of smallest
//   refresh --email E --force             target: 1.3x
//   status --json --email E               target: 1.2x
//   status --json (every user)            streams: peak RSS at the biggest size < 150 MB (time grows with output)
// then `refresh --all` on 10,000 users all due, 50 ms token latency, --concurrency 32, vs one after another
// (--concurrency 1 on a subset, extrapolated): target >= 25x, every stored pair live afterwards; and the lock
// storm (32 `token` processes for one expired user: exactly 1 refresh, within 2x of 32 `--version`).
// With --growth the file store is measured at the same sizes too (the growth table in BENCHMARKS.md);
// the plot goes to bench/results/scale.svg (bench/lib/svg-plot.js).
// Usage: node bench/pg-scale.js [runs=5] [--sizes 10,1000,10000,100000] [--fanout 10000] [--subset 100]
//        [--storm-rounds 3] [--growth] [--no-fanout] [--no-storm]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  ROOT,
  baseEnv,
  boxQc,
  check,
  email,
  emitResult,
  fmtMB,
  fmtMs,
  median,
  startEmulatorProcess,
  tempDir,
  userRecord,
  writeStore,
} from './lib/common.js';
import { findPgBinaries, startPgCluster } from './lib/pg-cluster.js';

if (!findPgBinaries()) {
  console.log('pg-scale: skipped: no PostgreSQL server binaries (initdb, postgres) here; see .ci/pg-setup.sh');
  emitResult({ name: 'pg-scale', skipped: true });
  process.exit(0);
}
import { svgPlot } from './lib/svg-plot.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const runs = Number(argv.find((a) => /^\d+$/.test(a)) ?? 5);
const sizes = opt('--sizes', '10,1000,10000,100000').split(',').map(Number);
const fanoutUsers = Number(opt('--fanout', '10000'));
const subset = Number(opt('--subset', '100'));
const stormRounds = Number(opt('--storm-rounds', '3'));
const growth = argv.includes('--growth');
const LATENCY_MS = 50;
const TARGET = email(0);
const small = Math.min(...sizes);
const big = Math.max(...sizes);
const TARGETS = {
  'token --email E': 1.2,
  'refresh --email E --force': 1.3,
  'status --json --email E': 1.2,
};

/** Filler users as rows, in one statement: the record is what bench/lib/common.js userRecord() writes. */
async function bulkLoad(url, n, target) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t = new Date(Math.floor(Date.now() / 1000) * 1000);
    const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    await c.query(
      `INSERT INTO box_qc_tokens (email, generation, updated_at, record)
       SELECT e, 0, $1::timestamptz, jsonb_build_object(
                'access_token', 'filler-at-' || e || 'xxxxxxxxxxxxxxxx', 'refresh_token', 'filler-rt-' || e || repeat('y', 48),
                'access_token_expires_at', $2::text, 'connected_at', $3::text, 'updated_at', $4::text,
                'box_user_id', '40000', 'box_user_login', e, 'box_user_name', 'Bench User', 'generation', 0,
                'refresh_token_issued_at', $4::text)
         FROM (SELECT 'user' || lpad(i::text, 5, '0') || '@example.com' AS e FROM generate_series(1, $5::int - 1) AS i) s`,
      [t, iso(new Date(t.getTime() + 3600_000)), iso(new Date(t.getTime() - 86_400_000)), iso(t), n],
    );
    await upsert(c, { [TARGET]: target });
    await c.query('ANALYZE box_qc_tokens');
  } finally {
    await c.end();
  }
}

async function upsert(c, users) {
  const entries = Object.entries(users);
  await c.query(
    `INSERT INTO box_qc_tokens (email, generation, record)
     SELECT e, 0, r FROM unnest($1::text[], $2::jsonb[]) AS x(e, r)
     ON CONFLICT (email) DO UPDATE SET record = EXCLUDED.record, generation = 0`,
    [entries.map(([e]) => e), entries.map(([, u]) => JSON.stringify(u))],
  );
}

async function readRows(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Object.fromEntries(
      (await c.query('SELECT email, record FROM box_qc_tokens')).rows.map((r) => [r.email, r.record]),
    );
  } finally {
    await c.end();
  }
}

const emu = await startEmulatorProcess(['--items', '10']);
/** One retry: after a long pause the first request may go out on a socket the emulator already closed. */
const mint = (login) => emu.mint(login).catch(() => emu.mint(login));
const cluster = await startPgCluster();
const { dir, cleanup } = tempDir('pg-scale');
const result = { name: 'pg-scale', runs, sizes, small, big, latencyMs: LATENCY_MS };
try {
  // ---- one user at every size ----
  const setups = [];
  for (const n of sizes) {
    const url = await cluster.createDatabase(`s${n}`);
    const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: url });
    check(await boxQc(['store', 'init'], env), 'store init');
    await bulkLoad(url, n, userRecord(TARGET, await mint(TARGET)));
    setups.push({ n, backend: 'postgres', env });
    if (growth) {
      // Minted before the loop: a long pause can outlive the emulator's keep-alive (a reused dead socket).
      const target = userRecord(TARGET, await mint(TARGET));
      const users = {};
      for (let i = 1; i < n; i += 1) users[email(i)] = userRecord(email(i));
      users[TARGET] = target;
      const store = join(dir, `file-${n}`, 'tokens.json');
      writeStore(store, users);
      setups.push({ n, backend: 'file', env: baseEnv(dir, { ...emu.env, BOX_QC_STORE: store }) });
    }
  }
  const ops = {
    'token --email E': (s) => boxQc(['token', '--email', TARGET], s.env, { rss: true }),
    'refresh --email E --force': (s) => boxQc(['refresh', '--email', TARGET, '--force'], s.env, { rss: true }),
    'status --json --email E': (s) => boxQc(['status', '--json', '--email', TARGET], s.env, { rss: true }),
    'status --json': (s) => boxQc(['status', '--json'], s.env, { rss: true }),
  };
  // The file store past its size may refuse (a 55 MB rewrite to mark a refresh in flight outlasts the marker's
  // bound: exit 75, nothing sent): recorded as refused in the growth table, not a failed bench. PostgreSQL may not.
  const refused = {};
  const measure = async (name, op, s) => {
    const r = await op(s);
    if (r.code !== 0 && s.backend === 'file') {
      refused[`${s.backend}|${name}|${s.n}`] = r.stderr.trim().split('\n')[0].slice(0, 200);
      return undefined;
    }
    return check(r, `${name} (${s.backend}, ${s.n} users)`);
  };
  for (const [name, op] of Object.entries(ops)) for (const s of setups) await measure(name, op, s); // warm-up
  const samples = {};
  for (let i = 0; i < runs; i += 1)
    for (const [name, op] of Object.entries(ops))
      for (const s of setups) {
        const k = `${s.backend}|${name}|${s.n}`;
        if (refused[k]) continue;
        const r = await measure(name, op, s);
        if (!r) continue;
        (samples[k] ??= { ms: [], rss: [] }).ms.push(r.ms);
        samples[k].rss.push(r.peakRss ?? NaN);
      }
  result.refused = refused;
  for (const [k, why] of Object.entries(refused)) console.log(`  refused: ${k.replaceAll('|', ' ')}: ${why}`);
  result.table = [];
  for (const [key, v] of Object.entries(samples)) {
    const [backend, op, n] = key.split('|');
    result.table.push({ backend, op, users: Number(n), ms: median(v.ms), peakRssBytes: Math.max(...v.rss) });
  }
  for (const key of Object.keys(refused)) {
    const [backend, op, n] = key.split('|');
    result.table.push({ backend, op, users: Number(n), ms: NaN, peakRssBytes: NaN, refused: true });
  }
  const at = (backend, op, n) => result.table.find((r) => r.backend === backend && r.op === op && r.users === n);
  console.log(`pg-scale: PostgreSQL store, ${sizes.join(' / ')} users; ${runs} interleaved runs, medians`);
  for (const op of Object.keys(ops)) {
    const cells = sizes.map((n) => `${fmtMs(at('postgres', op, n).ms)} ${fmtMB(at('postgres', op, n).peakRssBytes)}`);
    console.log(`  ${op.padEnd(28)} ${cells.map((c) => c.padStart(18)).join('')}`);
  }
  result.ops = {};
  for (const [op, target] of Object.entries(TARGETS)) {
    const a = at('postgres', op, small).ms;
    const b = at('postgres', op, big).ms;
    result.ops[op] = { smallMs: a, bigMs: b, ratio: b / a, target };
    console.log(`  ${op} ${big} vs ${small} users: ${(b / a).toFixed(2)}x (target <= ${target}x)`);
  }
  const all = at('postgres', 'status --json', big);
  result.statusAll = { users: big, ms: all.ms, peakRssBytes: all.peakRssBytes };
  console.log(
    `  status --json over ${big} users: ${fmtMs(all.ms)}, peak RSS ${fmtMB(all.peakRssBytes)} (target < 150 MB)`,
  );
  if (growth) {
    console.log('  file store:');
    for (const op of Object.keys(ops)) {
      const cells = sizes.map((n) => {
        const r = at('file', op, n);
        return r.refused ? 'refused (exit 75)' : `${fmtMs(r.ms)} ${fmtMB(r.peakRssBytes)}`;
      });
      console.log(`  ${op.padEnd(28)} ${cells.map((c) => c.padStart(18)).join('')}`);
    }
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const series = [];
  for (const backend of growth ? ['postgres', 'file'] : ['postgres'])
    for (const op of Object.keys(ops))
      series.push({
        label: `${op} (${backend === 'file' ? 'file' : 'PostgreSQL'})`,
        dashed: backend === 'file',
        points: sizes.map((n) => [n, at(backend, op, n).ms]).filter(([, ms]) => Number.isFinite(ms)),
      });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'scale.svg'),
    svgPlot({
      title: 'box-qc: time per command vs users in the store',
      xLabel: 'users',
      yLabel: 'ms (median)',
      series,
    }),
  );

  // ---- refresh --all: 10,000 due, 50 ms token latency ----
  if (!argv.includes('--no-fanout')) {
    const url = await cluster.createDatabase('fanout');
    const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: url });
    check(await boxQc(['store', 'init'], env), 'store init');
    const users = {};
    const stamp = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const past = stamp(Date.now() - 60_000);
    const fresh = stamp(Date.now() + 3600_000);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < fanoutUsers) {
          const e = `fan${String(next++).padStart(5, '0')}@example.com`;
          users[e] = userRecord(e, await mint(e), { expiresAt: Date.now() - 60_000 });
        }
      }),
    );
    const emails = Object.keys(users).sort();
    // Baseline: `subset` users due (the others fresh), one after another.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await upsert(
      c,
      Object.fromEntries(
        emails.map((e, i) => [
          e,
          // Fresh for an hour: a far-future expiry would look like a wrong clock and be refreshed (session-due.ts).
          i < subset ? users[e] : { ...users[e], access_token_expires_at: fresh },
        ]),
      ),
    );
    await emu.addFault({ route: '/oauth2/token', action: 'latency', ms: LATENCY_MS });
    const seq = check(await boxQc(['refresh', '--all', '--concurrency', '1'], env), 'refresh --all --concurrency 1');
    const perUser = seq.ms / subset;
    // Every user due: the rows as the baseline left them, access tokens expired.
    await c.query(
      `UPDATE box_qc_tokens SET record = jsonb_set(record, '{access_token_expires_at}', to_jsonb($1::text))`,
      [past],
    );
    await c.end();
    await emu.resetStats();
    const fan = check(await boxQc(['refresh', '--all', '--concurrency', '32'], env, { rss: true }), 'refresh --all');
    const refreshes = (await emu.stats()).byGrantType.refresh_token ?? 0;
    const rows = await readRows(url);
    let live = 0;
    for (const e of emails) {
      const u = rows[e];
      if (u && !u.refresh_in_flight && (await emu.isLive(u.access_token)) && (await emu.isLive(u.refresh_token)))
        live += 1;
    }
    await emu.clearFaults();
    result.fanout = {
      users: fanoutUsers,
      subset,
      sequentialPerUserMs: perUser,
      sequentialEstimateMs: perUser * fanoutUsers,
      fanoutMs: fan.ms,
      peakRssBytes: fan.peakRss,
      speedup: (perUser * fanoutUsers) / fan.ms,
      refreshes,
      live,
    };
    console.log(
      `  refresh --all, ${fanoutUsers} due, ${LATENCY_MS} ms latency, --concurrency 32: ${fmtMs(fan.ms)} (peak RSS ${fmtMB(fan.peakRss)}); one after another ${perUser.toFixed(1)} ms/user (${subset} measured) -> ${fmtMs(perUser * fanoutUsers)}: ${result.fanout.speedup.toFixed(1)}x (target >= 25x); ${refreshes} refreshes, live ${live}/${fanoutUsers}`,
    );
  }

  // ---- lock storm on PostgreSQL ----
  if (!argv.includes('--no-storm')) {
    const url = await cluster.createDatabase('storm');
    const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: url });
    check(await boxQc(['store', 'init'], env), 'store init');
    const STORM = 'storm@example.com';
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await upsert(c, { [STORM]: userRecord(STORM, await mint(STORM)) });
    const burst = async (args) => {
      const t0 = process.hrtime.bigint();
      const rs = await Promise.all(Array.from({ length: 32 }, () => boxQc(args, env, { keepStdout: true })));
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, rs };
    };
    const version = [];
    // The floor of any process on a PostgreSQL store: start, load pg, connect, read one row.
    const floor = [];
    const token = [];
    const refreshes = [];
    let failures = 0;
    let dead = 0;
    await burst(['--version']);
    for (let i = 0; i < stormRounds; i += 1) {
      version.push((await burst(['--version'])).ms);
      floor.push((await burst(['status', '--json', '--email', STORM])).ms);
      await c.query(
        `UPDATE box_qc_tokens SET record = jsonb_set(record, '{access_token_expires_at}', '"2020-01-01T00:00:00Z"')`,
      );
      await emu.resetStats();
      const b = await burst(['token', '--email', STORM]);
      token.push(b.ms);
      refreshes.push((await emu.stats()).byGrantType.refresh_token ?? 0);
      failures += b.rs.filter((r) => r.code !== 0).length;
      const printed = new Set(b.rs.map((r) => r.stdout.trim()));
      if (printed.size !== 1 || !(await emu.isLive([...printed][0] ?? ''))) dead += 1;
    }
    await c.end();
    const v = median(version);
    const t = median(token);
    const f = median(floor);
    result.storm = { versionMs: v, floorMs: f, tokenMs: t, ratio: t / v, refreshesPerRound: refreshes, failures, dead };
    console.log(
      `  lock storm (32 x token, expired user, ${stormRounds} rounds): ${fmtMs(t)} vs 32 x --version ${fmtMs(v)}: ${(t / v).toFixed(2)}x (target <= 2x); floor, 32 x status --json --email E on the same store: ${fmtMs(f)} (${(f / v).toFixed(2)}x); refreshes per round ${refreshes.join(', ')}; failed ${failures}; bad rounds ${dead}`,
    );
  }
} finally {
  await emu.close();
  await cluster.stop();
  cleanup();
}
emitResult(result);
