/**
 * store rekey re-reads the store when it is done (review of issue 19, finding 4): a value another process
 * sealed meanwhile under the old key (a long-running serve with the old key text) is reported, so the old
 * key is not removed while something still needs it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../../src/core/store/open.js';
import { convertStore } from '../../../../src/core/store/crypto/convert.js';
import type { TokenStore } from '../../../../src/core/store/types.js';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const stores: TokenStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function open(path: string, key: string): TokenStore {
  const s = openStore(path, {
    host: { pid: process.pid, hostname: 'h', euid: process.getuid?.(), isPidAlive: () => true },
    env: { BOX_QC_KEY: key },
  });
  stores.push(s);
  return s;
}

async function save(store: TokenStore, email: string): Promise<void> {
  const at = new Date().toISOString();
  await store.update((doc) => {
    doc.users[email] = {
      access_token: `at-${email}`,
      refresh_token: `rt-${email}`,
      access_token_expires_at: at,
      connected_at: at,
      updated_at: at,
    };
  });
}

describe('store rekey', () => {
  it('reports a user sealed under the old key by another process during the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'box-qc-rekey-'));
    chmodSync(dir, 0o700);
    const path = join(dir, 'tokens.json');
    const old = open(path, K1);
    await save(old, 'a@example.com');
    await save(old, 'b@example.com');
    const rotated = open(path, `${K2}\n${K1}`);
    // Another process with the old key text saves a user while the rekey runs (before its first user).
    let once = false;
    const racing: TokenStore = {
      ...rotated,
      async withUserLock(email, fn, options) {
        if (!once) {
          once = true;
          await save(old, 'c@example.com');
        }
        return rotated.withUserLock(email, fn, options);
      },
    };
    const report = await convertStore(racing, 'rekey');
    expect(report.summary.changed).toBe(2);
    expect(report.leftover).toEqual(['c@example.com']);
    const again = await convertStore(rotated, 'rekey');
    expect(again.summary.changed).toBe(1);
    expect(again.leftover).toEqual([]);
  });

  it('reports nothing left over when every value is under the current key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'box-qc-rekey-'));
    chmodSync(dir, 0o700);
    const path = join(dir, 'tokens.json');
    await save(open(path, K1), 'a@example.com');
    const report = await convertStore(open(path, `${K2}\n${K1}`), 'rekey');
    expect(report.leftover).toEqual([]);
  });
});
