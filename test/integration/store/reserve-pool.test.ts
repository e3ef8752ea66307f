/**
 * Review-2 finding 12: reservations sized by writes, not by reservations. write-reserve.ts keeps a pool of two
 * temps and a slack file, whatever the number of reservations (two temps per reservation were 34 temps,
 * 5.5 MB, for a 122 KB store), and still every save a reservation stands for is written on a disk filled to 0
 * after the reservations were made: here 32 of them on a real tmpfs, with the saves batched every way, and
 * with tokens of the longest size reserved for (MAX_STORED_TOKEN_BYTES; before, the sizing used the old store
 * only and such a save did not fit). Root only (mount); skips with a printed reason elsewhere.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MAX_STORED_TOKEN_BYTES, markInFlight, saveUserTokens } from '../../../src/core/store/index.js';
import { SLACK_PER_RESERVATION } from '../../../src/core/store/file/write-reserve.js';
import { fillDisk, tmpfsPerTest } from '../../faults/helpers/tmpfs.js';
import { makeStore, pair } from '../../unit/store/store-test-kit.js';

const run = promisify(execFile);
const N = 32;
const USERS = 300;
const tmpfs = tmpfsPerTest('boxqc-pool-', '4m', 'pool tests');

const owner = { pid: process.pid, host: 'test-host' };
const email = (i: number) => `user${i}@example.com`;
/** VSCHAR without `"` or `\`: stored as is, MAX_STORED_TOKEN_BYTES bytes. */
const longPair = (i: number) => ({
  accessToken: `A${i}-`.padEnd(MAX_STORED_TOKEN_BYTES, 'a'),
  refreshToken: `R${i}-`.padEnd(MAX_STORED_TOKEN_BYTES, 'r'),
  expiresIn: 3600,
});

async function seeded() {
  const dir = join(tmpfs.dir, 'box-qc');
  mkdirSync(dir, { mode: 0o700 });
  const s = makeStore(dir);
  await s.store.update((d) => {
    for (let i = 0; i < USERS; i++) saveUserTokens(d, email(i), pair(i), undefined, Date.now());
  });
  return { ...s, dir };
}

const reservedBytes = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.reserve'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);

const PATTERNS: Array<{ name: string; long: boolean; markersTogether: boolean; savesTogether: boolean }> = [
  { name: 'markers and saves one write each (64 writes)', long: false, markersTogether: false, savesTogether: false },
  { name: 'markers in one batch, saves one write each', long: false, markersTogether: true, savesTogether: false },
  {
    name: 'markers and saves concurrently (group commit batches them as they come)',
    long: false,
    markersTogether: true,
    savesTogether: true,
  },
  {
    name: 'tokens of MAX_STORED_TOKEN_BYTES, one write each',
    long: true,
    markersTogether: false,
    savesTogether: false,
  },
  {
    name: 'tokens of MAX_STORED_TOKEN_BYTES, all saves in one batch',
    long: true,
    markersTogether: true,
    savesTogether: true,
  },
];

describe(`${N} reservations, disk filled to 0 after reserving: every save is written`, () => {
  for (const p of PATTERNS) {
    it(
      p.name,
      async (ctx) => {
        if (tmpfs.skipReason) ctx.skip(tmpfs.skipReason);
        const { store, path, dir } = await seeded();
        const storeSize = statSync(path).size;
        const rs = await Promise.all(Array.from({ length: N }, () => store.reserveWrite()));
        // Sized by writes: two store-sized temps and the slack, not 2 x N temps.
        const held = reservedBytes(dir);
        expect(held).toBeLessThan(2 * (storeSize * 1.25 + 4096 + 512 * N + 8192) + N * SLACK_PER_RESERVATION + 8192);
        const filler = await fillDisk(tmpfs.dir);
        await expect(run('sh', ['-c', `printf x >> ${filler}`])).rejects.toThrow();
        const ids = Array.from({ length: N }, (_, i) => i);
        const mark = (i: number) => store.update((d) => markInFlight(d, email(i), owner, Date.now()));
        const save = (i: number) =>
          store.update((d) =>
            saveUserTokens(d, email(i), p.long ? longPair(i) : pair(5000 + i), undefined, Date.now()),
          );
        if (p.markersTogether) await Promise.all(ids.map(mark));
        else for (const i of ids) await mark(i);
        if (p.savesTogether) await Promise.all(ids.map(save));
        else for (const i of ids) await save(i);
        const doc = JSON.parse(readFileSync(path, 'utf8'));
        for (const i of ids) {
          expect(doc.users[email(i)].refresh_token).toBe(p.long ? longPair(i).refreshToken : `rt${5000 + i}`);
          expect(doc.users[email(i)].refresh_in_flight).toBeUndefined();
        }
        await Promise.all(rs.map((r) => r.release()));
        expect(readdirSync(dir).filter((n) => n !== 'tokens.json')).toEqual([]);
        rmSync(filler);
      },
      60_000,
    );
  }
});
