/**
 * The keyless encryption check before a refresh POST, made by the in-flight marker's commit (issue 20, ninth
 * session; file-store.ts refusedAsEncrypted, crypto-store.ts), under its review's findings:
 *
 * A: a refused marker writes nothing, whoever wrote the store: a batch that changed nothing leaves the file as it
 *    is (finding 1: a store in another program's format was rewritten whole by the keyless process it refused).
 * B: the marker is written up to three times when its writes are slow (session-post-guard.ts): a re-stamp
 *    refused (the store got encrypted after the first write) clears the marker written before it (finding 2).
 * C: keyless refreshes of several users in one group commit of markers, on a partly encrypted store: all
 *    refused naming the encrypted user, nothing sent, nothing written.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../../src/core/session.js';
import { openFileStore } from '../../../../src/core/store/index.js';
import { withTokenCrypto } from '../../../../src/core/store/crypto/crypto-store.js';
import { isPidAlive } from '../../../../src/store-host.js';
import { keylessSession, rec, sealedRec } from './keyless-kit.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-refused-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'tokens.json');
}

it('a keyless refresh refused (the store holds ciphertext) leaves a store in another format byte for byte', async () => {
  const path = tmp();
  // Written by another program: compact, one key to normalise, a null bookkeeping field.
  const text = JSON.stringify({
    version: 1,
    store_id: 'sid',
    users: { 'a@x.com': rec(1), 'B@x.com': { ...sealedRec(2), needs_reconnect: null } },
  });
  writeFileSync(path, text, { mode: 0o600 });
  const inner = openFileStore(path, { pid: process.pid, euid: process.geteuid?.(), isPidAlive, lockWaitMs: 5000 });
  const store = withTokenCrypto(inner, undefined);
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).rejects.toMatchObject({
    code: 'E_KEY_MISSING',
  });
  expect(server.requests).toHaveLength(0);
  expect(readFileSync(path, 'utf8')).toBe(text);
});

it('a slow marker written again and refused the second time: the first marker is cleared, nothing sent', async () => {
  const path = tmp();
  writeFileSync(path, `${JSON.stringify({ version: 1, users: { 'a@x.com': rec(1), 'b@x.com': rec(2) } }, null, 2)}\n`, {
    mode: 0o600,
  });
  let opens = 0;
  const inner = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 5000,
    fs: {
      open: async (p, flags, mode) => {
        if (p === path) {
          opens += 1;
          // Reads: before the lock, under the user lock, marker 1's commit, then marker 2's commit. Before
          // marker 2's re-read, another process's `store encrypt` seals b.
          if (opens === 4) {
            const d = JSON.parse(readFileSync(path, 'utf8'));
            d.store_id = 'sid';
            d.users['b@x.com'] = {
              ...d.users['b@x.com'],
              access_token: 'enc:v1:k1:AAAA',
              refresh_token: 'enc:v1:k1:BBBB',
            };
            writeFileSync(path, `${JSON.stringify(d, null, 2)}\n`, { mode: 0o600 });
          }
        }
        return openFile(p, flags, mode);
      },
    },
  });
  const store = withTokenCrypto(inner, undefined);
  // Every marker write counts as slow: writeMarker writes it again (up to three times).
  const { session, server } = await keylessSession(store, cleanups, { maxMarkerWriteMs: -1 });
  const err = await getValidAccessToken(session, 'a@x.com').catch((e: unknown) => e);
  expect(server.requests).toHaveLength(0);
  expect(err).toMatchObject({ code: 'E_KEY_MISSING' });
  // The first marker (ours, pid 4242) is cleared.
  expect(JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'].refresh_in_flight).toBeUndefined();
});

it('keyless refreshes of six users in one group commit of markers, one user encrypted: all refused, nothing sent or written', async () => {
  const path = tmp();
  const users: Record<string, unknown> = { 'z@x.com': sealedRec(9) };
  for (let i = 0; i < 6; i++) users[`u${i}@x.com`] = rec(i);
  const text = `${JSON.stringify({ version: 1, store_id: 'sid', users }, null, 2)}\n`;
  writeFileSync(path, text, { mode: 0o600 });
  const inner = openFileStore(path, { pid: process.pid, euid: process.geteuid?.(), isPidAlive, lockWaitMs: 5000 });
  const store = withTokenCrypto(inner, undefined);
  const { session, server } = await keylessSession(store, cleanups);
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => getValidAccessToken(session, `u${i}@x.com`)),
  );
  for (const r of results) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'E_KEY_MISSING', details: { email: 'z@x.com' } });
  }
  expect(server.requests).toHaveLength(0);
  expect(readFileSync(path, 'utf8')).toBe(text);
});
