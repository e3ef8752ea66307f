#!/usr/bin/env node
// bench/ls-throughput (issue 8): `box-qc ls 0` of a 100,000-item folder, text to a pipe, vs a bare undici
// loop (bench/lib/bare-ls.js) fetching the same pages and printing the same columns. Both are child
// processes timed from spawn to exit (Node start-up included in both), interleaved, medians. The emulator
// runs in a third process. Then box-qc's peak RSS (VmHWM via /usr/bin/time) at 10,000 / 100,000 / 1,000,000
// items. Targets: time <= 1.2x bare; peak RSS < 80 MB and flat across sizes.
// Usage: node bench/ls-throughput.js [runs=5] [--no-million]
import { join } from 'node:path';
import {
  ROOT,
  baseEnv,
  boxQc,
  check,
  emitResult,
  fmtMB,
  fmtMs,
  median,
  ratio,
  run,
  startEmulatorProcess,
  tempDir,
  userRecord,
  writeStore,
} from './lib/common.js';

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5);
const sizes = process.argv.includes('--no-million') ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
const EMAIL = 'lister@example.com';
const bare = join(ROOT, 'bench', 'lib', 'bare-ls.js');

async function withEmulator(items, fn) {
  const emu = await startEmulatorProcess(['--items', String(items)]);
  const { dir, cleanup } = tempDir('ls');
  try {
    const pair = await emu.mint(EMAIL);
    const store = join(dir, 'store', 'tokens.json');
    writeStore(store, { [EMAIL]: userRecord(EMAIL, pair) });
    const env = baseEnv(dir, { ...emu.env, BOX_QC_STORE: store });
    return await fn({ emu, env, token: pair.access_token });
  } finally {
    await emu.close();
    cleanup();
  }
}

const result = { name: 'ls-throughput', runs };
await withEmulator(100_000, async ({ emu, env, token }) => {
  const tool = () => boxQc(['ls', '0', '--email', EMAIL], env, { rss: true }).then((r) => check(r, 'box-qc ls'));
  const loop = () =>
    run(process.execPath, [bare, emu.url, '0', token], { env, rss: true }).then((r) => check(r, 'bare loop'));
  // Warm-up (file cache, emulator JIT), and a check that both print the same bytes.
  const [a, b] = [await tool(), await loop()];
  // box-qc escapes control characters in names (terminalSafe): a few percent more bytes than the bare loop.
  if (a.bytes !== b.bytes)
    console.log(
      `  note: output sizes differ: box-qc ${a.bytes} B, bare ${b.bytes} B (box-qc escapes control characters)`,
    );
  const t = [];
  const l = [];
  for (let i = 0; i < runs; i += 1) {
    t.push(await tool());
    l.push(await loop());
  }
  const tm = median(t.map((r) => r.ms));
  const lm = median(l.map((r) => r.ms));
  Object.assign(result, {
    items: 100_000,
    boxQcMs: tm,
    bareMs: lm,
    ratio: tm / lm,
    boxQcRssBytes: median(t.map((r) => r.peakRss)),
    bareRssBytes: median(l.map((r) => r.peakRss)),
    outputBytes: a.bytes,
  });
  console.log(
    `ls throughput (100,000 items, text to a pipe, ${runs} interleaved runs, medians; target <= 1.2x bare loop)`,
  );
  console.log(`  bare undici loop          ${fmtMs(lm).padStart(9)}   peak RSS ${fmtMB(result.bareRssBytes)}`);
  console.log(
    `  box-qc ls 0               ${fmtMs(tm).padStart(9)}   peak RSS ${fmtMB(result.boxQcRssBytes)}   ${ratio(tm, lm)}`,
  );
});

result.rss = [];
console.log('ls peak RSS by folder size (target < 80 MB, flat)');
for (const items of sizes) {
  await withEmulator(items, async ({ env }) => {
    const r = check(await boxQc(['ls', '0', '--email', EMAIL], env, { rss: true }), 'box-qc ls');
    result.rss.push({ items, peakRssBytes: r.peakRss, ms: r.ms, bytes: r.bytes });
    console.log(
      `  ${String(items).padStart(9)} items   ${fmtMB(r.peakRss).padStart(9)}   ${fmtMs(r.ms).padStart(9)}   ${(r.bytes / 1e6).toFixed(1)} MB out`,
    );
  });
}
emitResult(result);
