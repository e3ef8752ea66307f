/**
 * Issue 15 item 3: a refresher paused across its deadline (laptop asleep, VM paused, `kill -STOP`). Its
 * refresh POST is held by the emulator; the process is stopped while it waits, kept stopped past the POST
 * bound while Box commits the rotation and the answer lands in its socket, then continued. The answer that
 * arrived must be read and saved: exit 0, the new pair stored and live, 0 users lost. Before the fix the
 * overdue timer fired first after SIGCONT ("timed out ... nothing was lost", exit 75) and, under strict
 * rotation, the user was dead.
 *
 * BOX_QC_REFRESH_TIMEOUT_MS shortens the 30 s bound so an iteration takes seconds (commands/shared/refresh-timeout.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { leftoverWorkFiles } from '../helpers/litter.js';
import { sleep, startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow, rowOk } from './helpers/ledger.js';
import { foreignPairs, judgeUsers, readStoreState, seedFresh } from './helpers/store-check.js';

const SOAK = process.env.BOX_QC_SOAK === '1';
const EMAIL = 'ann@example.com';
const BOUND_MS = 2_000;
const HOLD_MS = 700;

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const refreshPosts = (l: FaultLab) => l.emu.stats().byGrantType.refresh_token ?? 0;

/** Until the refresh POST has reached the emulator (counted on arrival; the proxy forwards only complete requests). */
async function waitForPost(l: FaultLab, before: number, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (refreshPosts(l) > before) return true;
    await sleep(5);
  }
  return false;
}

describe('a refresher paused across its deadline (issue 15 item 3)', () => {
  it(`SIGSTOP during the held POST, SIGCONT past the ${BOUND_MS} ms bound: exit 0, new pair saved, 0 users lost`, async () => {
    lab = await startFaultLab({ rotation: 'strict' });
    const l = lab;
    l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: HOLD_MS });
    await seedFresh(l, [EMAIL]);
    const row = emptyRow('paused refresher across its deadline, strict');
    const problems: string[] = [];
    const iterations = SOAK ? 10 : 2;
    for (let i = 0; i < iterations; i++) {
      row.iterations += 1;
      const before = JSON.parse(await l.readRaw()).users[EMAIL].refresh_token as string;
      const posts = refreshPosts(l);
      const run = l.start(['refresh', '--email', EMAIL, '--force'], {
        env: { BOX_QC_REFRESH_TIMEOUT_MS: String(BOUND_MS) },
        timeoutMs: 60_000,
      });
      if (!(await waitForPost(l, posts, 10_000))) {
        problems.push(`#${i}: the refresh POST never arrived\n${describeResult(await run.done)}`);
        row.failed += 1;
        break;
      }
      run.child.kill('SIGSTOP');
      // Stopped while Box holds the POST, commits the rotation and answers; continued well past the bound.
      await sleep(BOUND_MS + HOLD_MS + 1_500);
      await l.settle();
      run.child.kill('SIGCONT');
      const r = await run.done;
      if (r.code !== 0) {
        row.failed += 1;
        problems.push(`#${i}: expected exit 0\n${describeResult(r)}`);
      }
      const st = await readStoreState(l.storePath);
      if (!st.ok) {
        row.corrupted += 1;
        problems.push(`#${i}: ${st.error}`);
        break;
      }
      const user = st.doc.users[EMAIL];
      if (user?.refresh_token === before) {
        row.failed += 1;
        problems.push(`#${i}: the rotated pair was not saved`);
      }
      if (user?.refresh_in_flight) {
        row.failed += 1;
        problems.push(`#${i}: in-flight marker left behind`);
      }
      const foreign = foreignPairs(l, st.doc);
      if (foreign.length) problems.push(`#${i}: pair never issued for ${foreign.join(', ')}`);
      for (const v of judgeUsers(l, st.doc)) {
        if (!v.lost) continue;
        row.lost += 1;
        row.unexplained += 1;
        row.lostWhy[v.lost] = (row.lostWhy[v.lost] ?? 0) + 1;
        problems.push(`#${i}: ${v.email} lost (${v.lost})\n${describeResult(r)}`);
      }
      row.litter += (await leftoverWorkFiles(l.dir)).length;
    }
    row.leaks = l.leaks().length;
    row.secretsChecked = l.secrets().size;
    recordRow(row);
    expect(problems).toEqual([]);
    expect(rowOk(row)).toBe(true);
  });
});
