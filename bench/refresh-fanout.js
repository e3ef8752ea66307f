#!/usr/bin/env node
// bench/refresh-fanout (issue 8): `refresh --all --force` for 1,000 users with 50 ms latency on the emulator's
// token endpoint (emulator in its own process), store durability untouched (every save fsynced: counted with
// strace when available), every user live afterwards (access and refresh token checked with the emulator).
// Baseline "one after another": the same command with --concurrency 1 on a subset of the same 1,000-user
// store (`subset` users in one process; per-user `refresh --email` runs would add a process start each), timed
// and extrapolated linearly to all users. Target: >= 10x faster than one-after-another, and under 5 s.
// Usage: node bench/refresh-fanout.js [users=1000] [subset=100]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  baseEnv,
  check,
  emitResult,
  fmtMs,
  mintUsers,
  readStore,
  run,
  startEmulatorProcess,
  tempDir,
  writeStore,
} from './lib/common.js';

const [users = 1000, subset = 100] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
const LATENCY_MS = 50;
const hasStrace = existsSync('/usr/bin/strace') && !process.env.BENCH_NO_STRACE;

const emu = await startEmulatorProcess(['--items', '10']);
const { dir, cleanup } = tempDir('fanout');
const result = { name: 'refresh-fanout', users, subset, latencyMs: LATENCY_MS };
try {
  const store = join(dir, 'store', 'tokens.json');
  const seeded = await mintUsers(emu, users);
  const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: store });
  await emu.addFault({ route: '/oauth2/token', action: 'latency', ms: LATENCY_MS });

  // Baseline: users one after another (concurrency 1) on a subset; the subset users are marked fresh-expired
  // so only they are refreshed, in a store of the full size.
  const emails = Object.keys(seeded);
  const subsetStore = structuredClone(seeded);
  const past = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const e of emails.slice(0, subset)) subsetStore[e].access_token_expires_at = past;
  writeStore(store, subsetStore);
  await emu.resetStats();
  const seq = check(
    await run(process.execPath, [BIN, 'refresh', '--all', '--concurrency', '1'], { env }),
    'refresh --concurrency 1',
  );
  const seqRefreshes = (await emu.stats()).byGrantType.refresh_token ?? 0;
  const perUser = seq.ms / subset;
  const seqEstimate = perUser * users;

  // Fan-out on the store as the baseline left it (every stored pair live), timed; then once more under
  // strace -f -c to count fsync calls without charging strace to the timed run.
  await emu.resetStats();
  const fan = check(
    await run(process.execPath, [BIN, 'refresh', '--all', '--force'], { env }),
    'refresh --all --force',
  );
  const stats = await emu.stats();
  const straceOut = join(dir, 'strace.txt');
  const traced = hasStrace
    ? check(
        await run(
          '/usr/bin/strace',
          [
            '-f',
            '-c',
            '-e',
            'trace=fsync,fdatasync,rename',
            '-o',
            straceOut,
            process.execPath,
            BIN,
            'refresh',
            '--all',
            '--force',
          ],
          { env },
        ),
        'refresh under strace',
      )
    : undefined;
  const syscalls = hasStrace ? parseStrace(readFileSync(straceOut, 'utf8')) : undefined;

  // Every user live: the stored access and refresh tokens are the emulator's latest, unused ones.
  const doc = readStore(store);
  let live = 0;
  for (const e of emails) {
    const u = doc.users[e];
    if (u && !u.refresh_in_flight && (await emu.isLive(u.access_token)) && (await emu.isLive(u.refresh_token)))
      live += 1;
  }
  Object.assign(result, {
    sequentialSubsetMs: seq.ms,
    sequentialRefreshes: seqRefreshes,
    sequentialPerUserMs: perUser,
    sequentialEstimateMs: seqEstimate,
    fanoutMs: fan.ms,
    fanoutUnderStraceMs: traced?.ms,
    speedup: seqEstimate / fan.ms,
    tokenRequests: stats.byGrantType.refresh_token ?? 0,
    live,
    syscalls,
  });
  console.log(
    `refresh fan-out (${users} users, ${LATENCY_MS} ms token latency, emulator in its own process; target >= 10x and < 5 s)`,
  );
  console.log(
    `  one after another: --concurrency 1 on ${subset} of ${users} users: ${fmtMs(seq.ms)} (${seqRefreshes} refreshes), ${perUser.toFixed(1)} ms/user -> ${fmtMs(seqEstimate)} for ${users} (extrapolated)`,
  );
  console.log(
    `  refresh --all --force (default concurrency): ${fmtMs(fan.ms)}   ${(seqEstimate / fan.ms).toFixed(1)}x faster`,
  );
  console.log(`  token requests ${result.tokenRequests} (last run), users live afterwards ${live}/${users}`);
  if (syscalls)
    console.log(
      `  second run under strace (${fmtMs(traced.ms)}): fsync ${syscalls.fsync ?? 0}, fdatasync ${syscalls.fdatasync ?? 0}, rename ${syscalls.rename ?? 0} (store commits = renames)`,
    );
} finally {
  await emu.close();
  cleanup();
}
emitResult(result);

function parseStrace(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
    if (m) out[m[2]] = Number(m[1]);
  }
  return out;
}
