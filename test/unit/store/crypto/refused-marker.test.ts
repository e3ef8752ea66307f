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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../../src/core/session.js';
import { keylessFileStore, keylessSession, rec, sealUserInFile, sealedRec, writeUsers } from './keyless-kit.js';

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
  const store = keylessFileStore(path);
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).rejects.toMatchObject({
    code: 'E_KEY_MISSING',
  });
  expect(server.requests).toHaveLength(0);
  expect(readFileSync(path, 'utf8')).toBe(text);
});

it('a slow marker written again and refused the second time: the first marker is cleared, nothing sent', async () => {
  const path = tmp();
  writeUsers(path, { 'a@x.com': rec(1), 'b@x.com': rec(2) });
  let opens = 0;
  // Reads: before the lock, under the user lock, marker 1's commit, then marker 2's commit. Before marker 2's
  // re-read, another process's `store encrypt` seals b.
  const store = keylessFileStore(path, (p) => {
    if (p === path && ++opens === 4) sealUserInFile(path, 'b@x.com');
  });
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
  const text = writeUsers(path, users, { store_id: 'sid' });
  const store = keylessFileStore(path);
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
