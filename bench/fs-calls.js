#!/usr/bin/env node
// bench/fs-calls: what one file-system call of the store costs through libuv's thread pool (node:fs's callback
// API) against the same call made directly (node:fs's synchronous API), on this machine. The file store's two
// layers (src/core/store/file/fs-layer.ts) are chosen by this: one-shot commands call directly, `serve` goes
// through the pool. Three ways: pool calls one after another (a refresh's lock, read, write and rename), 200
// pool calls at once (a `serve` answering a burst), direct calls. The calls are those of a lock file's life
// (create-exclusive, write, fstat, close, unlink) and a stat, in a folder of the system's temporary folder.
// CPU is this process's user + system time (all threads), per call. A script that prints figures, not a test.
// Usage: node bench/fs-calls.js [rounds=2000]
import * as fs from 'node:fs';
import { join } from 'node:path';
import { emitResult, tempDir } from './lib/common.js';

const rounds = Number(process.argv[2] ?? 2000);
const { dir, cleanup } = tempDir('fs-calls');
const CALLS_PER_ROUND = 6;
const lockBody = Buffer.from('{"pid":1,"host":"bench"}\n');
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const call = (start) => new Promise((resolve, reject) => start((err, v) => (err ? reject(err) : resolve(v))));

/** One lock file's life and a stat through the pool. */
async function poolRound(path) {
  const fd = await call((cb) => fs.open(path, 'wx', 0o600, cb));
  await call((cb) => fs.write(fd, lockBody, 0, lockBody.length, 0, cb));
  await call((cb) => fs.fstat(fd, cb));
  await call((cb) => fs.close(fd, cb));
  await call((cb) => fs.stat(dir, cb));
  await call((cb) => fs.unlink(path, cb));
}

function directRound(path) {
  const fd = fs.openSync(path, 'wx', 0o600);
  fs.writeSync(fd, lockBody, 0, lockBody.length, 0);
  fs.fstatSync(fd);
  fs.closeSync(fd);
  fs.statSync(dir);
  fs.unlinkSync(path);
}

async function measure(run) {
  const c0 = cpuMs();
  const t0 = performance.now();
  await run();
  const calls = rounds * CALLS_PER_ROUND;
  return { cpuUs: ((cpuMs() - c0) * 1000) / calls, wallUs: ((performance.now() - t0) * 1000) / calls };
}

try {
  const file = (i) => join(dir, `lock-${i}`);
  // Warm-up: the pool's threads started, the code compiled.
  for (let i = 0; i < 200; i++) await poolRound(file(i));
  for (let i = 0; i < 200; i++) directRound(file(i));
  const sequential = await measure(async () => {
    for (let i = 0; i < rounds; i++) await poolRound(file(i));
  });
  const burst = await measure(async () => {
    for (let i = 0; i < rounds; i += 200)
      await Promise.all(Array.from({ length: Math.min(200, rounds - i) }, (_, k) => poolRound(file(i + k))));
  });
  const direct = await measure(async () => {
    for (let i = 0; i < rounds; i++) directRound(file(i));
  });
  const us = (x) => `${x.toFixed(1)} us`;
  console.log(`fs-calls: one store file-system call, ${rounds * CALLS_PER_ROUND} calls each way (CPU of all threads)`);
  console.log(`  thread pool, one after another   CPU ${us(sequential.cpuUs)}, wall ${us(sequential.wallUs)} a call`);
  console.log(`  thread pool, 200 at once          CPU ${us(burst.cpuUs)}, wall ${us(burst.wallUs)} a call`);
  console.log(`  direct (synchronous)              CPU ${us(direct.cpuUs)}, wall ${us(direct.wallUs)} a call`);
  console.log(
    `  one after another, pool / direct: CPU ${(sequential.cpuUs / direct.cpuUs).toFixed(1)}x, wall ${(sequential.wallUs / direct.wallUs).toFixed(1)}x (why one-shot commands call directly)`,
  );
  emitResult({ name: 'fs-calls', rounds, sequential, burst, direct });
} finally {
  cleanup();
}
