#!/usr/bin/env node
/**
 * Holds the store lock of <store path> for <ms> through the built store's own update() (a mutation that
 * spins), so a fault test can keep another process's save waiting whatever the lock file's format.
 * Usage: node hold-store-lock.mjs <dist folder> <store path> <ms>. Writes "held\n" (synchronously) once it holds it.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, storePath, ms] = process.argv.slice(2);
const { openFileStore } = await import(pathToFileURL(join(dist, 'core/store/index.js')).href);
const { nodeStoreHost } = await import(pathToFileURL(join(dist, 'store-host.js')).href);
const store = openFileStore(storePath, { ...nodeStoreHost(), lockWaitMs: 30_000 });
await store.update(() => {
  writeSync(1, 'held\n');
  const until = Date.now() + Number(ms);
  while (Date.now() < until) {
    // spin: the point is to hold the lock, and update() mutations are synchronous
  }
});
await store.close();
