#!/usr/bin/env node
/**
 * A child process that exercises the built store (dist/core/store) for the multi-process tests, on either
 * backend (issue 9): `store` is a file path or a postgres:// URL, as BOX_QC_STORE would be.
 * Usage: node store-worker.mjs '<json>' with {op, store, email?, log?, rounds?, nestMs?, barrier?, lockWaitMs?}.
 *   read: store.read(), prints the user emails
 *   save: update() saving a token pair for `email`, `rounds` times
 *   nest: `rounds` times: inside withUserLock(email) append "<pid", sleep `nestMs` (default 100), append ">pid"
 *         to `log`
 *   hold: take withUserLock(email), append "<pid" to `log`, print HELD, then wait until killed
 *   reserve: store.reserveWrite(), print HELD, then wait until killed (an orphaned reservation; file store)
 * With `barrier`, prints READY once loaded and starts only when that file exists (a simultaneous start).
 * Prints one JSON line {ok:true,...} or {ok:false,code,message} and exits 0 or the error's exit code.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const dist = new URL('../../dist/', import.meta.url);
const { openFileStore, saveUserTokens } = await import(new URL('core/store/index.js', dist).href);
const { nodeStoreHost } = await import(new URL('store-host.js', dist).href);
const { isPostgresUrl } = await import(new URL('core/store/location.js', dist).href);

const args = JSON.parse(process.argv[2]);
const lockWaitMs = args.lockWaitMs ?? 45_000;
const warnings = [];
// The PostgreSQL backend (and its driver) is loaded only when asked for: 20 file-store workers start at once.
const store = isPostgresUrl(args.store)
  ? (await import(new URL('core/store/postgres/postgres-store.js', dist).href)).openPostgresStore(args.store, {
      pid: process.pid,
      hostname: hostname(),
      lockWaitMs,
      env: process.env,
    })
  : openFileStore(args.store, { ...nodeStoreHost(), lockWaitMs, onWarning: (line) => warnings.push(line) });

async function barrier() {
  if (!args.barrier) return;
  process.stdout.write('READY\n');
  while (!existsSync(args.barrier)) await sleep(5);
}

const ops = {
  async read() {
    return { users: Object.keys((await store.read()).users) };
  },
  async save() {
    for (let i = 0; i < (args.rounds ?? 1); i++) {
      await store.update((doc) =>
        saveUserTokens(
          doc,
          args.email,
          { accessToken: `at-${args.email}-${i}`, refreshToken: `rt-${args.email}-${i}`, expiresIn: 3895 },
          undefined,
          Date.now(),
        ),
      );
    }
  },
  async nest() {
    for (let i = 0; i < (args.rounds ?? 1); i++) {
      await store.withUserLock(args.email, async () => {
        appendFileSync(args.log, `<${process.pid}\n`);
        await sleep(args.nestMs ?? 100);
        appendFileSync(args.log, `>${process.pid}\n`);
      });
    }
  },
  async reserve() {
    await store.reserveWrite();
    process.stdout.write('HELD\n');
    await new Promise(() => setInterval(() => {}, 1 << 30));
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
  process.stdout.write(`${JSON.stringify({ ok: true, pid: process.pid, warnings, ...result })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`);
  process.exitCode = typeof err.exitCode === 'number' ? err.exitCode : 1;
} finally {
  await store.close();
}
