/**
 * Review of the splice commit (eighth session), finding 2: the keyless check before a refresh POST judges the
 * store as it is once the room for the save is reserved. Another process's `store encrypt` that seals a user in
 * between (it works one user at a time, under that user's lock, beside cron refreshes) must still stop a
 * keyless refresh of another user before anything is sent to Box.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rename, open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../../src/core/session.js';
import { openFileStore } from '../../../../src/core/store/index.js';
import { withTokenCrypto } from '../../../../src/core/store/crypto/crypto-store.js';
import { isPidAlive } from '../../../../src/store-host.js';
import { keylessSession, rec } from './keyless-kit.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('a user encrypted by another process while the room is reserved: E_KEY_MISSING, nothing sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-keyless-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tokens.json');
  const initial = { version: 1, users: { 'a@x.com': rec(1), 'b@x.com': rec(2) } };
  writeFileSync(path, `${JSON.stringify(initial, null, 2)}\n`, { mode: 0o600 });
  let sealed = false;
  let sealedText = '';
  const inner = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 5000,
    fs: {
      // The moment the reservation creates its first file (after the read under a's lock), the other process
      // commits b's encrypted values and the store's identity.
      open: async (p, flags, mode) => {
        if (!sealed && p.includes('.rsv-')) {
          sealed = true;
          const d = JSON.parse(readFileSync(path, 'utf8'));
          d.store_id = 'sid';
          d.users['b@x.com'] = {
            ...d.users['b@x.com'],
            access_token: 'enc:v1:k1:AAAA',
            refresh_token: 'enc:v1:k1:BBBB',
          };
          sealedText = `${JSON.stringify(d, null, 2)}\n`;
          writeFileSync(`${path}.x`, sealedText, { mode: 0o600 });
          await rename(`${path}.x`, path);
        }
        return openFile(p, flags, mode);
      },
    },
  });
  const store = withTokenCrypto(inner, undefined);
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).rejects.toMatchObject({ code: 'E_KEY_MISSING' });
  expect(sealed).toBe(true);
  expect(server.requests).toHaveLength(0);
  expect(JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'].refresh_token).toBe('RT1');
  // The marker's commit made the check (issue 20): nothing of it was written.
  expect(readFileSync(path, 'utf8')).toBe(sealedText);
});

it('a keyless refresh of a plaintext store reads the store four times: no read of its own for the check (issue 20)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-keyless-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tokens.json');
  writeFileSync(path, `${JSON.stringify({ version: 1, users: { 'a@x.com': rec(1), 'b@x.com': rec(2) } }, null, 2)}\n`, {
    mode: 0o600,
  });
  let reads = 0;
  const inner = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 5000,
    fs: {
      open: (p, flags, mode) => {
        if (p === path) reads += 1;
        return openFile(p, flags, mode);
      },
    },
  });
  const store = withTokenCrypto(inner, undefined);
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).resolves.toMatchObject({ accessToken: 'AT9' });
  expect(server.requests).toHaveLength(1);
  // Before the lock, under the user's lock, the marker's commit, the save's commit.
  expect(reads).toBe(4);
});
