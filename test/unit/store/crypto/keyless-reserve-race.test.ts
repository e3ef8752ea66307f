/**
 * Review of the splice commit (eighth session), finding 2: the keyless check before a refresh POST judges the
 * store as it is once the room for the save is reserved. Another process's `store encrypt` that seals a user in
 * between (it works one user at a time, under that user's lock, beside cron refreshes) must still stop a
 * keyless refresh of another user before anything is sent to Box.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getValidAccessToken } from '../../../../src/core/session.js';
import { keylessFileStore, keylessSession, rec, sealUserInFile, writeUsers } from './keyless-kit.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('a user encrypted by another process while the room is reserved: E_KEY_MISSING, nothing sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-keyless-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tokens.json');
  writeUsers(path, { 'a@x.com': rec(1), 'b@x.com': rec(2) });
  let sealedText = '';
  // The moment the reservation creates its first file (after the read under a's lock), the other process
  // commits b's encrypted values and the store's identity.
  const store = keylessFileStore(path, (p) => {
    if (sealedText === '' && p.includes('.rsv-')) sealedText = sealUserInFile(path, 'b@x.com');
  });
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).rejects.toMatchObject({ code: 'E_KEY_MISSING' });
  expect(sealedText).not.toBe('');
  expect(server.requests).toHaveLength(0);
  expect(JSON.parse(readFileSync(path, 'utf8')).users['a@x.com'].refresh_token).toBe('RT1');
  // The marker's commit made the check (issue 20): nothing of it was written.
  expect(readFileSync(path, 'utf8')).toBe(sealedText);
});

it('a keyless refresh of a plaintext store reads the store four times: no read of its own for the check (issue 20)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-keyless-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tokens.json');
  writeUsers(path, { 'a@x.com': rec(1), 'b@x.com': rec(2) });
  let reads = 0;
  const store = keylessFileStore(path, (p) => {
    if (p === path) reads += 1;
  });
  const { session, server } = await keylessSession(store, cleanups);
  await expect(getValidAccessToken(session, 'a@x.com')).resolves.toMatchObject({ accessToken: 'AT9' });
  expect(server.requests).toHaveLength(1);
  // Before the lock, under the user's lock, the marker's commit, the save's commit.
  expect(reads).toBe(4);
});
