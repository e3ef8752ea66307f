#!/usr/bin/env node
// bench/invite-commits (issue 17): what one connect-link commit costs as a store's invites accumulate (they are
// kept 30 days after they expire). Each commit spends one invite's state (core/invites spendStateNonce, the
// callback's first commit) on the built file store (dist/), one after another, in this process; CPU per
// commit with `large` invites against the same with `small`, 200 users in both, interleaved rounds, medians.
// A commit that rewrote the whole document grows with the invites; one that rewrites only the changed record
// (the splice, store/file/record-layout.ts) should not, but for the O(invites) work left outside the store
// (BENCHMARKS.md thirteenth session). Usage: node bench/invite-commits.js [large=2000] [small=20] [commits=200]
// [rounds=5]
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, emitResult, median, ratio, tempDir } from './lib/common.js';

const [large = 2000, small = 20, commits = 200, rounds = 5] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
if (!existsSync(join(ROOT, 'dist'))) throw new Error('build first (npm run build)');
const load = (path) => import(pathToFileURL(join(ROOT, 'dist', path)).href);
const { openFileStore } = await load('core/store/index.js');
const { serializeStore } = await load('core/store/format.js');
const { spendStateNonce } = await load('core/invites/invites.js');
const { isPidAlive } = await load('store-host.js');

const NOW = Date.now();
const at = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const hash = (i) => createHash('sha256').update(`invite ${i}`).digest('hex');

/** CPU ms per spend commit on a fresh store with `n` invites. */
async function perCommit(n, dir) {
  const T = at(NOW);
  const users = {};
  for (let i = 0; i < 200; i++)
    users[`u${i}@example.com`] = {
      access_token: `at-${i}`,
      refresh_token: `rt-${i}`,
      access_token_expires_at: T,
      connected_at: T,
      updated_at: T,
    };
  const invites = {};
  for (let i = 0; i < n; i++)
    invites[hash(i)] = {
      email: `u${i % 200}@example.com`,
      created_at: T,
      expires_at: at(NOW + 86_400_000),
      state: 'pending',
    };
  const path = join(dir, `tokens-${n}.json`);
  writeFileSync(path, serializeStore({ version: 1, users, invites }), { mode: 0o600 });
  const store = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 10_000,
    onWarning() {},
  });
  await store.read();
  const count = Math.min(commits, n);
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const spent = await store.update((d) => spendStateNonce(d, hash(i), `nonce-${i}`, NOW));
    if (spent !== true) throw new Error(`invite ${i} was not spent`);
  }
  const used = process.cpuUsage(before);
  await store.close?.();
  return (used.user + used.system) / 1000 / count;
}

const t = tempDir('invite-commits');
try {
  const big = [];
  const few = [];
  for (let r = 0; r < rounds; r++) {
    big.push(await perCommit(large, t.dir));
    few.push(await perCommit(small, t.dir));
  }
  const [b, f] = [median(big), median(few)];
  console.log(`invite-commits: one invite's state spent per commit, 200 users, ${rounds} interleaved rounds, medians`);
  console.log(`  ${String(large).padStart(6)} invites   ${b.toFixed(2)} ms CPU per commit   ${ratio(b, f)}`);
  console.log(`  ${String(small).padStart(6)} invites   ${f.toFixed(2)} ms CPU per commit   1.00x`);
  emitResult({ name: 'invite-commits', large, small, commits, rounds, largeCpuMs: b, smallCpuMs: f, ratio: b / f });
} finally {
  t.cleanup();
}
