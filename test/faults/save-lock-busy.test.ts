/**
 * REVIEW-1 finding 1, reproduced end to end: another process holds the store lock from before Box answers
 * until after. Old code retried the save 3 times (about 2 s with a 400 ms lock wait), then exit 75
 * StoreBusyError "nothing was lost" with the marker cleared and the rotated pair gone. Now the save is
 * retried for its whole budget: held shorter than the budget -> saved, exit 0; held longer -> exit 1
 * E_ROTATION_NOT_SAVED ("may be lost"), marker kept, and the next run reports refresh_interrupted.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DIST, REPO, sleep, startFaultLab, type FaultLab } from './helpers/lab.js';

const EMAIL = 'lockbusy@example.com';
const HOLDER = join(REPO, 'test', 'faults', 'helpers', 'hold-store-lock.mjs');
const labs: FaultLab[] = [];
afterEach(async () => {
  while (labs.length) await labs.pop()!.close();
});

async function heldDuringPost(holdMs: number, budgetMs: number) {
  const l = await startFaultLab({ rotation: 'strict' });
  labs.push(l);
  l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 1500 });
  const old = l.mint(EMAIL);
  await l.seed({ [EMAIL]: old });
  const run = l.start(['refresh', '--email', EMAIL, '--force'], {
    env: { BOX_QC_LOCK_WAIT_MS: '400', BOX_QC_SAVE_BUDGET_MS: String(budgetMs) },
  });
  // The marker is on disk: the POST is under way (1.5 s latency). Take the store lock now, until after the answer.
  for (let i = 0; i < 1000 && !(await readFile(l.storePath, 'utf8')).includes('refresh_in_flight'); i++) await sleep(5);
  const holder = l.start([DIST, l.storePath, String(holdMs)], { script: HOLDER });
  const r = await run.done;
  await holder.done;
  await l.settle();
  const u = JSON.parse(await readFile(l.storePath, 'utf8')).users[EMAIL];
  return { l, r, u, old };
}

describe("the store lock is held by another process across Box's answer", () => {
  it('held 4 s, save budget 20 s: the save waits it out, exit 0, the rotated pair is saved', async () => {
    const { l, r, u } = await heldDuringPost(4000, 20_000);
    expect(r.code, r.stderr).toBe(0);
    expect(l.emu.isLive(u.refresh_token)).toBe(true);
    expect(u.refresh_in_flight).toBeUndefined();
    expect(r.stderr).toMatch(/retrying/);
  });

  it('held 5 s, save budget 1.5 s: exit 1 E_ROTATION_NOT_SAVED "may be lost", marker kept, next run says refresh_interrupted', async () => {
    const { l, r, u, old } = await heldDuringPost(5000, 1500);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/may be lost/);
    expect(r.stderr).not.toMatch(/nothing was lost/);
    expect(r.stderr).toContain(EMAIL);
    expect(u.refresh_token).toBe(old.refresh_token);
    expect(u.refresh_in_flight).toBeDefined();
    const next = await l.cli(['refresh', '--email', EMAIL, '--force']);
    expect(next.code, next.stderr).toBe(4);
    expect(next.stderr).toMatch(/refresh was interrupted/);
  });
});
