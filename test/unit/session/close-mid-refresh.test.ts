/**
 * Tearing a session down never cuts a refresh between its POST and its save (REVIEW-1 finding 5): `ls` and
 * listFolder fetch the next page ahead, and a 401 on that page starts a refresh while the consumer may
 * already be done (`ls --limit`, `| head`, an error). close() waits for that refresh to be saved before it
 * closes the pool and the store.
 */
import { mkdtemp, mkdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { createSession, listFolder, openStore, type StoreDocument, type TokenStore } from '../../../src/index.js';
import { iso } from '../../helpers/time.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seeded() {
  emu = await startEmulator({ port: 0, rootItems: 300 });
  const m = emu.mint({ login: 'alice@example.com' });
  const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-close-')), 'box-qc');
  await mkdir(dir, { mode: 0o700 });
  const storePath = join(dir, 'tokens.json');
  const now = Date.now();
  await writeFile(
    storePath,
    JSON.stringify({
      version: 1,
      users: {
        'alice@example.com': {
          access_token: m.access_token,
          refresh_token: m.refresh_token,
          access_token_expires_at: iso(now + 3_000_000),
          connected_at: iso(now),
          updated_at: iso(now),
          generation: 1,
        },
      },
    }),
    { mode: 0o600 },
  );
  return { emu, storePath, m };
}

const refreshPosts = (e: Emulator) => e.stats().byGrantType.refresh_token ?? 0;

describe('session.close() while the prefetched page refreshes', () => {
  it('the consumer stops while a refresh POST started by the prefetch is in flight: the new pair is saved', async () => {
    const { emu: e, storePath, m } = await seeded();
    // Page 2 (the prefetch) answers 401; the refresh it starts is committed by Box, whose answer comes late.
    e.faults.add({ route: '/2.0/folders/*/items', action: 'status', status: 401, skip: 1, times: 1 });
    e.faults.add({ route: '/oauth2/token', action: 'stall-after-commit', ms: 600 });
    const session = await createSession({ store: storePath, env: { ...e.env() } });
    let seen = 0;
    for await (const _item of listFolder(session, 'alice@example.com', '0', { pageSize: 100 })) {
      seen += 1;
      while (refreshPosts(e) === 0) await sleep(5);
      break;
    }
    await session.close();
    expect(seen).toBe(1);
    const stored = JSON.parse(await readFile(storePath, 'utf8')).users['alice@example.com'];
    expect(stored.refresh_token).not.toBe(m.refresh_token);
    expect(e.isLive(stored.refresh_token)).toBe(true);
    expect(stored.refresh_in_flight).toBeUndefined();
  });

  it('close() resolves only after that save, even when the save is slow (a busy store)', async () => {
    const { emu: e, storePath, m } = await seeded();
    e.faults.add({ route: '/2.0/folders/*/items', action: 'status', status: 401, skip: 1, times: 1 });
    e.faults.add({ route: '/oauth2/token', action: 'stall-after-commit', ms: 300 });
    const base = openStore(storePath);
    let saves = 0;
    // Every write takes 300 ms more (a store lock held by another process, a slow disk, PostgreSQL).
    const store: TokenStore = Object.assign(Object.create(base) as TokenStore, {
      update: async <T>(mutate: (doc: StoreDocument) => T) => {
        await sleep(300);
        saves += 1;
        return base.update(mutate);
      },
    });
    const session = await createSession({ store, env: { ...e.env() } });
    for await (const _item of listFolder(session, 'alice@example.com', '0', { pageSize: 100 })) {
      while (refreshPosts(e) === 0) await sleep(5);
      break;
    }
    await session.close();
    // Read at once, no settling: close() has returned, so the refresh must be durable already.
    const stored = JSON.parse(await readFile(storePath, 'utf8')).users['alice@example.com'];
    expect(stored.refresh_token).not.toBe(m.refresh_token);
    expect(e.isLive(stored.refresh_token)).toBe(true);
    expect(stored.refresh_in_flight).toBeUndefined();
    expect(saves).toBe(2); // the marker, then the new pair
  });
});
