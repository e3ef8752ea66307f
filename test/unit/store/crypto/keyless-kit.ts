/**
 * What the keyless-check tests share (keyless-reserve-race.test.ts, refused-marker.test.ts): records, store
 * files, the file store without a key, and a refresh session against a local token endpoint.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { closeHttpContext, createHttpContext } from '../../../../src/core/http/request.js';
import { openFileStore } from '../../../../src/core/store/index.js';
import { withTokenCrypto } from '../../../../src/core/store/crypto/crypto-store.js';
import type { TokenStore } from '../../../../src/core/store/types.js';
import { isPidAlive } from '../../../../src/store-host.js';
import { json, startLocalServer } from '../../http/local-server.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A plaintext record whose access token has expired. */
export const rec = (n: number) => ({
  access_token: `AT${n}`,
  refresh_token: `RT${n}`,
  access_token_expires_at: iso(Date.now() - 1000),
  connected_at: iso(Date.now() - 9e6),
  updated_at: iso(Date.now() - 9e6),
  generation: 1,
});

/** The same record with its tokens sealed under key k1. */
export const sealedRec = (n: number) => ({
  ...rec(n),
  access_token: 'enc:v1:k1:AAAA',
  refresh_token: 'enc:v1:k1:BBBB',
});

/** A session on `store` whose token endpoint answers one good refresh; `cleanups` closes what it opened. */
export async function keylessSession(
  store: unknown,
  cleanups: Array<() => unknown>,
  extra: Record<string, unknown> = {},
) {
  const server = await startLocalServer([
    json(200, { access_token: 'AT9', refresh_token: 'RT9', expires_in: 3600, token_type: 'bearer' }),
  ]);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  const session = {
    store,
    http,
    apiBaseUrl: server.url,
    credentials: () => ({ clientId: 'c', clientSecret: 's' }),
    now: () => Date.now(),
    interrupts: { critical: <T>(fn: () => Promise<T>) => fn() },
    log: { debug() {} },
    warn() {},
    pid: 4242,
    host: 'h',
    refreshTimeoutMs: 5000,
    ...extra,
  };
  return { session: session as never, server };
}

/** A store file of `users` as box-qc writes it (2-space JSON, final newline, 0600); returns its text. */
export function writeUsers(path: string, users: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  const text = `${JSON.stringify({ version: 1, ...top, users }, null, 2)}\n`;
  writeFileSync(path, text, { mode: 0o600 });
  return text;
}

/**
 * Another process's `store encrypt` sealing `email` in the file (and giving the store its identity), written as
 * it writes: a temp renamed over the store. Returns the new text.
 */
export function sealUserInFile(path: string, email: string): string {
  const d = JSON.parse(readFileSync(path, 'utf8')) as { store_id?: string; users: Record<string, object> };
  d.store_id = 'sid';
  d.users[email] = { ...d.users[email], access_token: 'enc:v1:k1:AAAA', refresh_token: 'enc:v1:k1:BBBB' };
  const text = `${JSON.stringify(d, null, 2)}\n`;
  writeFileSync(`${path}.x`, text, { mode: 0o600 });
  renameSync(`${path}.x`, path);
  return text;
}

/** The file store at `path` without a key; `beforeOpen` runs before each file the store opens. */
export function keylessFileStore(path: string, beforeOpen?: (p: string) => void): TokenStore {
  const inner = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 5000,
    ...(beforeOpen
      ? {
          fs: {
            open: (p: string, flags: number, mode?: number) => {
              beforeOpen(p);
              return openFile(p, flags, mode);
            },
          },
        }
      : {}),
  });
  return withTokenCrypto(inner, undefined);
}
