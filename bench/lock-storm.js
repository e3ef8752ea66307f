#!/usr/bin/env node
// bench/lock-storm (issue 8): 32 processes run `box-qc token` at once for one user whose access token has
// expired. Exactly one may refresh (the emulator counts refresh_token grants); all 32 must print the same,
// live token. Wall time from the first spawn to the last exit, vs 32 `box-qc --version` started the same way.
// Interleaved rounds, medians. The emulator runs in its own process. Target: 1 refresh; within 2x.
// Usage: node bench/lock-storm.js [rounds=5] [procs=32]
import { join } from 'node:path';
import {
  baseEnv,
  boxQc,
  emitResult,
  fmtMs,
  median,
  readStore,
  startEmulatorProcess,
  tempDir,
  userRecord,
  writeStore,
} from './lib/common.js';

const [rounds = 5, procs = 32] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
const EMAIL = 'storm@example.com';

async function burst(args, env) {
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: procs }, () => boxQc(args, env, { keepStdout: true })));
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, results };
}

const emu = await startEmulatorProcess(['--items', '10']);
const { dir, cleanup } = tempDir('storm');
const result = { name: 'lock-storm', rounds, procs };
try {
  const store = join(dir, 'store', 'tokens.json');
  const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: store });
  writeStore(store, { [EMAIL]: userRecord(EMAIL, await emu.mint(EMAIL)) });
  const expire = () => {
    // Keep the stored (live) pair, but make the access token look expired so every `token` wants a refresh.
    const doc = readStore(store);
    doc.users[EMAIL].access_token_expires_at = '2020-01-01T00:00:00Z';
    writeStore(store, doc.users);
  };
  const version = [];
  const token = [];
  const refreshes = [];
  let failures = 0;
  let mismatched = 0;
  let dead = 0;
  await burst(['--version'], env); // warm the file cache
  for (let i = 0; i < rounds; i += 1) {
    version.push((await burst(['--version'], env)).ms);
    expire();
    await emu.resetStats();
    const b = await burst(['token', '--email', EMAIL], env);
    token.push(b.ms);
    refreshes.push((await emu.stats()).byGrantType.refresh_token ?? 0);
    failures += b.results.filter((r) => r.code !== 0).length;
    const printed = new Set(b.results.map((r) => r.stdout.trim()));
    if (printed.size !== 1) mismatched += 1;
    if (!(await emu.isLive([...printed][0] ?? ''))) dead += 1;
  }
  const v = median(version);
  const t = median(token);
  Object.assign(result, {
    versionMs: v,
    tokenMs: t,
    ratio: t / v,
    refreshesPerRound: refreshes,
    failures,
    roundsWithDifferentTokens: mismatched,
    roundsWithDeadToken: dead,
  });
  console.log(
    `lock storm (${procs} processes at once, ${rounds} interleaved rounds, medians; target: exactly 1 refresh, within 2x)`,
  );
  console.log(`  ${procs} x box-qc --version               ${fmtMs(v).padStart(9)}`);
  console.log(`  ${procs} x box-qc token (expired user)    ${fmtMs(t).padStart(9)}   ${(t / v).toFixed(2)}x`);
  console.log(
    `  refreshes per round: ${refreshes.join(', ')}; failed processes: ${failures}; rounds where tokens differed: ${mismatched}; dead token printed: ${dead}`,
  );
} finally {
  await emu.close();
  cleanup();
}
emitResult(result);
