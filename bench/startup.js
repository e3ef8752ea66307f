#!/usr/bin/env node
// bench/startup: how much box-qc adds to Node's own start-up, as a ratio to `node -e 0`.
// Interleaved runs (so machine noise hits every variant alike), medians. A script that prints figures,
// not a test: nothing here asserts on time. Usage: node bench/startup.js [runs=20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 20);
// BOX_QC_BENCH_BIN measures another build, as in every other bench (bench/lib/common.js).
const bin = process.env.BOX_QC_BENCH_BIN ?? fileURLToPath(new URL('../bin/box-qc.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'boxqc-bench-startup-'));
const env = { PATH: process.env.PATH, HOME: dir, BOX_QC_STORE: join(dir, 'none', 'tokens.json'), NO_COLOR: '1' };

const variants = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'box-qc --version', args: [bin, '--version'] },
  { name: 'box-qc status --json (empty store)', args: [bin, 'status', '--json'] },
];

function timeOnce(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !process.env.BENCH_ALLOW_FAIL)
    throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

for (const v of variants) timeOnce(v.args); // warm the file cache
const samples = variants.map(() => []);
for (let i = 0; i < runs; i += 1) variants.forEach((v, j) => samples[j].push(timeOnce(v.args)));
rmSync(dir, { recursive: true, force: true });

const base = median(samples[0]);
console.log(`startup (${runs} interleaved runs, medians; target: status <= 1.5x node)`);
variants.forEach((v, j) => {
  const m = median(samples[j]);
  console.log(`  ${v.name.padEnd(38)} ${m.toFixed(1).padStart(7)} ms   ${(m / base).toFixed(2)}x`);
});
