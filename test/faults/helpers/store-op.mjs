#!/usr/bin/env node
/**
 * Saves one token pair through the built store (the code `connect` uses to create a store from nothing),
 * so the permission tests can create a store as another uid and under any umask.
 * Usage: node store-op.mjs <dist folder> <store path> <email>. Prints {ok:true} or {ok:false,code,message}.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, storePath, email] = process.argv.slice(2);
const { openFileStore, saveUserTokens } = await import(pathToFileURL(join(dist, 'core/store/index.js')).href);
const { nodeStoreHost } = await import(pathToFileURL(join(dist, 'store-host.js')).href);
const store = openFileStore(storePath, { ...nodeStoreHost(), onWarning: (l) => process.stderr.write(`${l}\n`) });
try {
  await store.update((doc) =>
    saveUserTokens(
      doc,
      email,
      { accessToken: 'perm-test-access', refreshToken: 'perm-test-refresh', expiresIn: 3600 },
      undefined,
      Date.now(),
    ),
  );
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`);
  process.exitCode = 1;
}
