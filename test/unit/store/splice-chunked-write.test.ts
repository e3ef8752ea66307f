/**
 * A splice commit written as pieces into a reserved temp (atomic-write.ts writeStoreIntoReserved; issue 20,
 * ninth session, from its review). Short writes (a few bytes per call), ENOSPC in the middle of a piece, and the
 * retry that reuses the same temp (longer stale content in it) give exactly the spliced bytes, or leave the old
 * store untouched.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { parseStoreBytes, serializeStore } from '../../../src/core/store/format.js';
import { directStoreFs } from '../../../src/core/store/file/fs-layer.js';
import { makeStore, pair, record, tempDir } from './store-test-kit.js';

const NOW = Date.UTC(2026, 10, 26);
let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

it('short writes and an ENOSPC mid-piece: the old store or exactly the new bytes, never a mix', async () => {
  let maxPerWrite = 3;
  let failAt = -1;
  let writes = 0;
  const tempWrites: string[] = [];
  const { store, path } = makeStore(t.dir, {
    fs: {
      open: async (p, flags, mode) => {
        const fh = await directStoreFs.open(p, flags, mode);
        if (p === path || !p.includes('tokens.json') || p.endsWith('.lock')) return fh;
        return {
          ...fh,
          stat: () => fh.stat(),
          chmod: (m: number) => fh.chmod(m),
          readFile: () => fh.readFile(),
          read: (b: Uint8Array, o: number, l: number, pos: number) => fh.read(b, o, l, pos),
          writeFile: (d: string | Uint8Array) => fh.writeFile(d),
          truncate: (n: number) => fh.truncate(n),
          sync: () => fh.sync(),
          close: () => fh.close(),
          write: async (b: Uint8Array, o: number, l: number, pos: number) => {
            writes += 1;
            tempWrites.push(p);
            if (writes === failAt) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
            return fh.write(b, o, Math.min(l, maxPerWrite), pos);
          },
        };
      },
    },
  });
  const users: Record<string, unknown> = {};
  for (let i = 0; i < 12; i++) users[`u${i}@x.com`] = record(i, { box_user_name: `Zoë ${i}` });
  // Another program's spacing: the splice keeps it, only two records change.
  const text = JSON.stringify({ version: 1, users, extra: 'kept' }, null, 1);
  writeFileSync(path, text, { mode: 0o600 });
  const reservation = await store.reserveWrite();
  try {
    const model = parseStoreBytes(Buffer.from(text), path);
    // 1: short writes only.
    await Promise.all([
      store.update((d) => saveUserTokens(d, 'u3@x.com', pair(3), undefined, NOW)),
      store.update((d) => saveUserTokens(d, 'u9@x.com', pair(9), undefined, NOW)),
    ]);
    saveUserTokens(model, 'u3@x.com', pair(3), undefined, NOW);
    saveUserTokens(model, 'u9@x.com', pair(9), undefined, NOW);
    expect(tempWrites.length).toBeGreaterThan(100);
    expect(parseStoreBytes(readFileSync(path), path)).toEqual(model);
    const after1 = readFileSync(path, 'utf8');
    expect(after1.startsWith('{\n "version": 1,\n "users": {\n  "u0@x.com": {\n   "access_token"')).toBe(true);
    // 2: ENOSPC at a write in the middle of the pieces: the old store stays.
    writes = 0;
    failAt = 40;
    maxPerWrite = 5;
    await expect(store.update((d) => saveUserTokens(d, 'u5@x.com', pair(55), undefined, NOW))).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe(after1);
    // 3: the retry (same temp, its stale bytes longer than the new file's) writes exactly the new bytes.
    failAt = -1;
    maxPerWrite = 1 << 20;
    await store.update((d) => saveUserTokens(d, 'u5@x.com', pair(5), undefined, NOW));
    saveUserTokens(model, 'u5@x.com', pair(5), undefined, NOW);
    expect(parseStoreBytes(readFileSync(path), path)).toEqual(model);
    // A read from a fresh process agrees, and a whole serialisation of it has the same records.
    const again = makeStore(t.dir).store;
    expect(await again.read()).toEqual(model);
    expect(JSON.parse(serializeStore(await again.read()).toString())).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  } finally {
    await reservation.release();
  }
});
