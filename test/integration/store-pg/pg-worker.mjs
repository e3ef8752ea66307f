#!/usr/bin/env node
/**
 * test/helpers/store-worker.mjs for either backend (issue 9): `store` is a file path or a postgres:// URL.
 * Usage: node pg-worker.mjs '<json>' with {op, store, email?, log?, rounds?, barrier?, lockWaitMs?}.
 *   save: update() saving a token pair for `email`, `rounds` times
 *   nest: `rounds` times: inside withUserLock(email) append "<pid", sleep 50 ms, append ">pid" to `log`
 *   hold: take withUserLock(email), append "<pid" to `log`, print HELD, then wait until killed
 * With `barrier`, prints READY once loaded and starts only when that file exists (a simultaneous start).
 * Prints one JSON line {ok:true,...} or {ok:false,code,message} and exits 0 or the error's exit code.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const dist = new URL('../../../dist/', import.meta.url);
const { openFileStore, saveUserTokens } = await import(new URL('core/store/index.js', dist).href);
const { openPostgresStore } = await import(new URL('core/store/postgres/postgres-store.js', dist).href);
const { nodeStoreHost } = await import(new URL('store-host.js', dist).href);

const args = JSON.parse(process.argv[2]);
const lockWaitMs = args.lockWaitMs ?? 45_000;
const store = /^postgres/.test(args.store)
  ? openPostgresStore(args.store, { pid: process.pid, hostname: hostname(), lockWaitMs, env: process.env })
  : openFileStore(args.store, { ...nodeStoreHost(), lockWaitMs });

async function barrier() {
  if (!args.barrier) return;
  process.stdout.write('READY\n');
  while (!existsSync(args.barrier)) await sleep(5);
}

const ops = {
  async save() {
    for (let i = 0; i < (args.rounds ?? 1); i++) {
      await store.update((doc) =>
        saveUserTokens(doc, args.email, { accessToken: `at-${args.email}-${i}`, refreshToken: `rt-${args.email}-${i}`, expiresIn: 3895 }, undefined, Date.now()),
      );
    }
  },
  async nest() {
    for (let i = 0; i < (args.rounds ?? 1); i++) {
      await store.withUserLock(args.email, async () => {
        appendFileSync(args.log, `<${process.pid}\n`);
        await sleep(50);
        appendFileSync(args.log, `>${process.pid}\n`);
      });
    }
  },
  async hold() {
    await store.withUserLock(args.email, async () => {
      appendFileSync(args.log, `<${process.pid}\n`);
      process.stdout.write('HELD\n');
      await new Promise(() => setInterval(() => {}, 1 << 30));
    });
  },
};

try {
  await barrier();
  const result = await ops[args.op]();
  process.stdout.write(`${JSON.stringify({ ok: true, pid: process.pid, ...result })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`);
  process.exitCode = typeof err.exitCode === 'number' ? err.exitCode : 1;
} finally {
  await store.close();
}
