/**
 * Issue 6 "Done when": many real processes at once against the emulator. Exactly one refresh per user per
 * round reaches Box, nobody presents a spent refresh token (0 invalid_grant, linear chains), everyone gets
 * the same token, and the store ends with the latest refresh token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { expireAll, invalidGrantCount, refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function tokenStampede(l: Lab, processes: number, email: string) {
  const runs = Array.from({ length: processes }, () => l.cli(['token', '--email', email]));
  return Promise.all(runs);
}

describe('token under concurrency', () => {
  it('20 processes x 5 rounds at 200 ms latency: one refresh per round, 0 invalid_grant, one token, linear chain', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 200 });
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    for (let round = 1; round <= 5; round++) {
      if (round > 1) await expireAll(lab);
      const before = refreshCount(lab);
      const results = await tokenStampede(lab, 20, 'alice@example.com');
      for (const r of results) expect(r.code, describeResult(r)).toBe(0);
      const tokens = new Set(results.map((r) => r.stdout.trim()));
      expect(tokens.size, `round ${round}`).toBe(1);
      expect(refreshCount(lab) - before, `round ${round}`).toBe(1);
      const stored = (await lab.readStore()).users['alice@example.com']!;
      expect(tokens.has(stored.access_token)).toBe(true);
      expect(lab.emu.isLive(stored.refresh_token)).toBe(true);
    }
    expect(invalidGrantCount(lab)).toBe(0);
    expect(lab.emu.chainCheck('alice@example.com')).toMatchObject({ ok: true, refreshes: 5 });
  }, 180_000);

  it('50 processes at 1 s latency: exactly one refresh and one token', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 1000 });
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const results = await tokenStampede(lab, 50, 'alice@example.com');
    for (const r of results) expect(r.code, describeResult(r)).toBe(0);
    expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);
    expect(refreshCount(lab)).toBe(1);
    expect(invalidGrantCount(lab)).toBe(0);
    expect(lab.emu.chainCheck('alice@example.com').ok).toBe(true);
  }, 180_000);

  it('10 users x 5 processes: exactly 10 refreshes and every stored refresh token is the latest issued', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 200 });
    const logins = Array.from({ length: 10 }, (_, i) => `user${i}@example.com`);
    await lab.mintAndSeed(logins, { expired: true });
    const results = await Promise.all(
      logins.flatMap((email) => Array.from({ length: 5 }, () => lab!.cli(['token', '--email', email]))),
    );
    for (const r of results) expect(r.code, describeResult(r)).toBe(0);
    expect(refreshCount(lab)).toBe(10);
    expect(invalidGrantCount(lab)).toBe(0);
    const doc = await lab.readStore();
    for (const email of logins) {
      const u = doc.users[email]!;
      expect(lab.emu.isLive(u.refresh_token), email).toBe(true);
      expect(lab.emu.chainCheck(email)).toMatchObject({ ok: true, refreshes: 1 });
      expect(u.refresh_in_flight).toBeUndefined();
    }
  }, 180_000);

  it('refresh --all --force keeps 1,000 users live at 50 ms latency', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 50 });
    const logins = Array.from({ length: 1000 }, (_, i) => `qc${String(i).padStart(4, '0')}@example.com`);
    await lab.mintAndSeed(logins);
    const started = performance.now();
    const r = await lab.cli(['refresh', '--all', '--force', '--json']);
    const wallMs = performance.now() - started;
    expect(r.code, describeResult(r)).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.summary).toMatchObject({ refreshed: 1000, needs_reconnect: 0, temporary_failure: 0, failed: 0 });
    expect(refreshCount(lab)).toBe(1000);
    const doc = await lab.readStore();
    let live = 0;
    for (const email of logins) if (lab.emu.isLive(doc.users[email]!.refresh_token)) live += 1;
    expect(live).toBe(1000);
    // Reported, not asserted (house rule: no wall-clock assertions).
    console.log(`refresh --all --force, 1000 users, 50 ms latency, default concurrency: ${Math.round(wallMs)} ms wall`);
  }, 300_000);
});
