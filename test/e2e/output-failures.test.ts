/**
 * Issue 15 item 1, end to end: output is best-effort. A full log disk or a dead stdout costs lines, never a
 * rotated refresh token; data the user asked for that cannot be written exits 1, quietly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { runWithSinks, STACK_FRAME } from '../helpers/run-cli-stdio.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab;
beforeEach(async () => {
  lab = await startLab();
});
afterEach(async () => {
  await lab.close();
});

const FULL = { path: '/dev/full' };

async function everyStoredPairLive(): Promise<string[]> {
  const doc = await lab.readStore();
  return Object.entries(doc.users)
    .filter(([, u]) => !lab.emu.isLive(u.refresh_token))
    .map(([e]) => e);
}

describe.skipIf(process.platform !== 'linux')('output failures never cost a refresh (issue 15 item 1)', () => {
  it('refresh --all --force with stderr on /dev/full refreshes and saves every user, exit 0', async () => {
    const logins = Array.from({ length: 12 }, (_, i) => `u${i}@example.com`);
    await lab.mintAndSeed(logins);
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 150 });
    const r = await runWithSinks(['refresh', '--all', '--force'], lab.env(), { stdout: 'pipe', stderr: FULL });
    expect(r.code, describeResult(r)).toBe(0);
    expect(refreshCount(lab)).toBe(logins.length);
    expect(await everyStoredPairLive()).toEqual([]);
  });

  it('--debug refresh with stderr on /dev/full keeps its user (the debug line cannot fail the POST)', async () => {
    await lab.mintAndSeed(['a@example.com']);
    const r = await runWithSinks(['--debug', 'refresh', '--force'], lab.env(), { stdout: 'pipe', stderr: FULL });
    expect(r.code, describeResult(r)).toBe(0);
    expect(refreshCount(lab)).toBe(1);
    expect(await everyStoredPairLive()).toEqual([]);
  });

  it.each([[['token']], [['status', '--json']], [['ls', '0']]])(
    '%j with stdout on /dev/full exits 1 without a stack trace',
    async (args) => {
      await lab.mintAndSeed(['a@example.com'], { expired: true });
      const r = await runWithSinks(args, lab.env(), { stdout: FULL, stderr: 'pipe' });
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.stderr).not.toMatch(STACK_FRAME);
      expect(r.stderr).not.toMatch(/ENOSPC|uncaught|node:internal/i);
      expect(await everyStoredPairLive()).toEqual([]);
    },
  );

  it('token with its reader gone (EPIPE) still saves the refreshed pair, no stack trace', async () => {
    await lab.mintAndSeed(['a@example.com'], { expired: true });
    const r = await runWithSinks(['token'], lab.env(), { stdout: 'closed', stderr: 'pipe' });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(refreshCount(lab)).toBe(1);
    expect(await everyStoredPairLive()).toEqual([]);
  });

  it('ls with its reader gone (`| head`) stops fetching pages, exit 0, no stack trace', async () => {
    await lab.close();
    lab = await startLab({ rootItems: 50_000 });
    await lab.mintAndSeed(['a@example.com']);
    const r = await runWithSinks(['ls', '0'], lab.env(), { stdout: 'closed', stderr: 'pipe' });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const pages = lab.emu.requests.filter((q) => q.path === '/2.0/folders/0/items').length;
    expect(pages).toBeLessThan(5);
  });
});
