/**
 * `store rekey` under load and under kill -9 (issue 19): rekey k1 -> k2 while 10 processes refresh in a loop
 * loses nothing (every stored pair is the emulator's live latest one), leaves every value under k2, and k1 can
 * then be removed (everything runs with only k2); a rekey killed with SIGKILL at a random point leaves a store
 * that parses, each record whole under one key or the other, and a re-run completes it.
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult, type CliResult } from '../helpers/run-cli.js';
import { startLab, type Lab } from '../e2e/refresh-fixtures.js';
import { openFileStore } from '../../src/core/store/index.js';
import { withTokenCrypto } from '../../src/core/store/crypto/crypto-store.js';
import { parseKeyring } from '../../src/core/store/crypto/keyring.js';
import { revealToken } from '../../src/core/store/crypto/reveal.js';
import { isPidAlive } from '../../src/store-host.js';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function keyFile(lines: string[]): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'boxqc-keys-')), 'keys');
  await writeFile(path, `${lines.join('\n')}\n`);
  await chmod(path, 0o600);
  return path;
}

/** The plaintext pair of every user, opened with `keys` the way box-qc opens them. */
async function openedPairs(l: Lab, keys: string): Promise<Record<string, { at: string; rt: string; raw: string[] }>> {
  const inner = openFileStore(l.storePath, { pid: process.pid, isPidAlive, euid: process.geteuid?.() });
  const store = withTokenCrypto(inner, parseKeyring(keys, 'BOX_QC_KEY'));
  try {
    const doc = await store.read();
    const out: Record<string, { at: string; rt: string; raw: string[] }> = {};
    for (const [email, u] of Object.entries(doc.users)) {
      out[email] = {
        at: await revealToken(store, email, 'access_token', u.access_token),
        rt: await revealToken(store, email, 'refresh_token', u.refresh_token),
        raw: [u.access_token, u.refresh_token],
      };
    }
    return out;
  } finally {
    await store.close();
  }
}

describe('store rekey', () => {
  it('k1 -> k2 while 10 processes refresh in a loop: 0 lost, every value under k2, k1 removable', async () => {
    const l = (lab = await startLab());
    // Box answers in ~100-300 ms: refreshes hold their user locks long enough for rekey to wait on them.
    l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 100 });
    const logins = Array.from({ length: 6 }, (_, i) => `u${i}@example.com`);
    await l.mintAndSeed(logins, { expired: true });
    const k1 = { BOX_QC_KEY_FILE: await keyFile([K1]) };
    expect((await l.cli(['store', 'encrypt'], k1)).code).toBe(0);
    const both = { BOX_QC_KEY_FILE: await keyFile([K2, K1]) };
    let stop = false;
    const runs: CliResult[] = [];
    const loop = async (i: number) => {
      while (!stop) {
        const args = i % 2 === 0 ? ['refresh', '--all', '--force'] : ['refresh', '--email', logins[i % 6]!, '--force'];
        runs.push(await l.cli(args, both));
      }
    };
    const loops = Array.from({ length: 10 }, (_, i) => loop(i));
    // Let the refreshers get going, then rekey in the middle of them.
    while (runs.length < 10) await new Promise((r) => setTimeout(r, 50));
    const rekey = await l.cli(['store', 'rekey', '--json'], both);
    const afterRekey = runs.length;
    while (runs.length < afterRekey + 10) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await Promise.all(loops);
    expect(rekey.code, describeResult(rekey)).toBe(0);
    expect(JSON.parse(rekey.stdout).summary.total).toBe(6);
    const bad = runs.filter((r) => r.code !== 0);
    expect(bad.map(describeResult)).toEqual([]);
    // 0 lost: each stored pair is the latest the emulator issued for that user, and live.
    const pairs = await openedPairs(l, K2);
    for (const login of logins) {
      const latest = l.emu.latestTokens(login)!;
      expect(pairs[login]!.rt, login).toBe(latest.refresh_token);
      expect(l.emu.isLive(pairs[login]!.rt), login).toBe(true);
      expect(
        pairs[login]!.raw.every((v) => v.startsWith('enc:v1:k2:')),
        login,
      ).toBe(true);
      expect(l.emu.chainCheck(login).ok, login).toBe(true);
    }
    // k1 removed: everything still works with k2 alone.
    const only2 = { BOX_QC_KEY_FILE: await keyFile([K2]) };
    const after = await l.cli(['refresh', '--all', '--force'], only2);
    expect(after.code, describeResult(after)).toBe(0);
    const text = await readFile(l.storePath, 'utf8');
    expect(l.emu.issuedTokens().filter((t) => text.includes(t))).toEqual([]);
  });

  it('kill -9 in the middle of rekey, then a re-run completes it with every token intact', async () => {
    const l = (lab = await startLab());
    const logins = Array.from({ length: 150 }, (_, i) => `qc${String(i).padStart(3, '0')}@example.com`);
    await l.mintAndSeed(logins);
    const seeded = JSON.parse(await readFile(l.storePath, 'utf8')) as {
      users: Record<string, { access_token: string; refresh_token: string }>;
    };
    const k1 = { BOX_QC_KEY_FILE: await keyFile([K1]) };
    expect((await l.cli(['store', 'encrypt'], k1)).code).toBe(0);
    const both = { BOX_QC_KEY_FILE: await keyFile([K2, K1]) };
    let partial = 0;
    for (const delayMs of [150, 400, 800]) {
      const { child, done } = l.start(['store', 'rekey'], both);
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      const killed = await done;
      if (killed.signal === 'SIGKILL') {
        const doc = JSON.parse(await readFile(l.storePath, 'utf8')) as {
          users: Record<string, { refresh_token: string }>;
        };
        const under2 = Object.values(doc.users).filter((u) => u.refresh_token.startsWith('enc:v1:k2:')).length;
        if (under2 > 0 && under2 < logins.length) partial += 1;
      }
      // Whatever the kill left, every record opens (under k1 or k2) to the token it held.
      const pairs = await openedPairs(l, `${K2}\n${K1}`);
      for (const login of logins) expect(pairs[login]!.rt, login).toBe(seeded.users[login]!.refresh_token);
      const rerun = await l.cli(['store', 'rekey', '--json'], both);
      expect(rerun.code, describeResult(rerun)).toBe(0);
      expect(JSON.parse(rerun.stdout).summary.total).toBe(logins.length);
      // Back to k1 for the next round, so each kill lands in a real rekey.
      const back = await l.cli(['store', 'rekey'], { BOX_QC_KEY_FILE: await keyFile([K1, K2]) });
      expect(back.code, describeResult(back)).toBe(0);
    }
    // At least one kill must have landed mid-way for the test to mean anything.
    expect(partial).toBeGreaterThan(0);
    const final = await l.cli(['store', 'rekey'], both);
    expect(final.code).toBe(0);
    const pairs = await openedPairs(l, K2);
    for (const login of logins) {
      expect(
        pairs[login]!.raw.every((v) => v.startsWith('enc:v1:k2:')),
        login,
      ).toBe(true);
      expect(pairs[login]!.at, login).toBe(seeded.users[login]!.access_token);
    }
  });
});
