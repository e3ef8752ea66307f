#!/usr/bin/env node
// bench/crypto (issue 19): what encryption at rest costs. (1) Start-up: `status --json` on a store of 10
// encrypted users with BOX_QC_KEY_FILE set, against `node -e 0` and against the same store in plaintext with
// no key; status opens no value, so crypto is never loaded and the target is startup.js's (<= 1.5x node).
// (2) Per user: the crypto a refresh adds, in process on the library build: open the refresh token, seal the
// new access and refresh tokens, open the access token handed out (AES-256-GCM, node:crypto). Target < 1 ms
// per user. Interleaved runs, medians; nothing here asserts on time.
// Usage: node bench/crypto.js [runs=20] [users=10000]
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ROOT,
  baseEnv,
  boxQc,
  check,
  email,
  emitResult,
  median,
  run,
  tempDir,
  userRecord,
  writeStore,
} from './lib/common.js';

const [runs = 20, users = 10_000] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
const lib = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
const { seal, open, newStoreId } = await lib('core/store/crypto/aead.js');
const { aadFor, parseEnvelope } = await lib('core/store/crypto/envelope.js');
const { parseKeyring } = await lib('core/store/crypto/keyring.js');

const { dir, cleanup } = tempDir('crypto');
const result = { name: 'crypto', runs, users };
try {
  const keyLine = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  const ring = parseKeyring(keyLine, 'bench');
  const keyFile = join(dir, 'keys');
  writeFileSync(keyFile, `${keyLine}\n`);
  chmodSync(keyFile, 0o600);
  const storeId = newStoreId();
  const plain = {};
  const sealed = {};
  for (let i = 0; i < 10; i += 1) {
    const e = email(i);
    const rec = userRecord(e, { access_token: `a${'x'.repeat(31)}`, refresh_token: `r${'y'.repeat(31)}` });
    plain[e] = rec;
    sealed[e] = {
      ...rec,
      access_token: seal(ring.current, aadFor(storeId, e, 'access_token'), rec.access_token),
      refresh_token: seal(ring.current, aadFor(storeId, e, 'refresh_token'), rec.refresh_token),
    };
  }
  const plainStore = join(dir, 'plain', 'tokens.json');
  const encStore = join(dir, 'enc', 'tokens.json');
  writeStore(plainStore, plain);
  writeStore(encStore, sealed);
  // writeStore writes { version, users }: add the identity the sealed values are bound to.
  const doc = JSON.parse(readFileSync(encStore, 'utf8'));
  writeFileSync(encStore, `${JSON.stringify({ ...doc, store_id: storeId }, null, 2)}\n`, { mode: 0o600 });
  const variants = [
    { name: 'node -e 0', run: async () => check(await runNode(), 'node') },
    {
      name: 'status --json, plaintext, no key',
      run: async () => check(await boxQc(['status', '--json'], env(plainStore)), 'status'),
    },
    {
      name: 'status --json, encrypted, key file',
      run: async () =>
        check(await boxQc(['status', '--json'], env(encStore, { BOX_QC_KEY_FILE: keyFile })), 'status enc'),
    },
  ];
  function env(store, extra = {}) {
    return baseEnv(dir, { BOX_QC_STORE: store, ...extra });
  }
  function runNode() {
    return run(process.execPath, ['-e', '0'], { env: baseEnv(dir) });
  }
  for (const v of variants) await v.run();
  const samples = variants.map(() => []);
  for (let i = 0; i < runs; i += 1) for (const [j, v] of variants.entries()) samples[j].push((await v.run()).ms);
  const base = median(samples[0]);
  result.startup = variants.map((v, j) => ({ name: v.name, ms: median(samples[j]), ratio: median(samples[j]) / base }));
  console.log(`crypto start-up (${runs} interleaved runs, medians; target: encrypted status <= 1.5x node)`);
  for (const s of result.startup)
    console.log(`  ${s.name.padEnd(38)} ${s.ms.toFixed(1).padStart(7)} ms   ${s.ratio.toFixed(2)}x`);

  // Per user: open the spent refresh token, seal the new pair, open the access token handed out.
  const t0 = process.hrtime.bigint();
  let check2 = 0;
  for (let i = 0; i < users; i += 1) {
    const e = email(i % 10);
    const rt = open(ring.current, aadFor(storeId, e, 'refresh_token'), parseEnvelope(sealed[e].refresh_token));
    const at2 = seal(ring.current, aadFor(storeId, e, 'access_token'), `b${i}${'x'.repeat(28)}`);
    seal(ring.current, aadFor(storeId, e, 'refresh_token'), `s${i}${'y'.repeat(28)}`);
    const out = open(ring.current, aadFor(storeId, e, 'access_token'), parseEnvelope(at2));
    if (rt !== undefined && out !== undefined) check2 += 1;
  }
  const perUserMs = Number(process.hrtime.bigint() - t0) / 1e6 / users;
  if (check2 !== users) throw new Error(`crypto round trip failed for ${users - check2} users`);
  result.perUserMs = perUserMs;
  console.log(
    `crypto per refreshed user (${users} users): ${perUserMs.toFixed(4)} ms/user, target < 1 ms: ${perUserMs < 1 ? 'met' : 'MISSED'}`,
  );
  const enc = result.startup[2];
  result.vsPlaintext = enc.ms / result.startup[1].ms;
  console.log(
    `encrypted vs plaintext status --json: ${result.vsPlaintext.toFixed(2)}x (what the key file and encrypted values add)`,
  );
  console.log(
    `encrypted status start-up: ${enc.ratio.toFixed(2)}x node, target <= 1.5x: ${enc.ratio <= 1.5 ? 'met' : 'MISSED'}`,
  );
  emitResult(result);
} finally {
  cleanup();
}
