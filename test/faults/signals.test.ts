/**
 * T4b catchable signals (reliability.md section 8; issue 7): the same refresh of 3 users, then SIGTERM,
 * SIGINT or SIGHUP at U(0, 600 ms). A signal inside the refresh window is held until the new pair is saved
 * (process-signals.ts), so right after the process ends every stored refresh token must still be live at
 * the emulator (strict rotation: a rotation committed and not saved would show as a dead token): 0 users
 * lost, no lock left behind, and the exit code is 128+n (143/130/129). A signal that lands before Node has
 * installed its handlers kills the process by that signal; that case is counted separately.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { leftoverWorkFiles } from '../helpers/litter.js';
import { sleep, startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow, rowOk } from './helpers/ledger.js';
import { foreignPairs, judgeUsers, readStoreState, seedFresh, USERS3 } from './helpers/store-check.js';

const SOAK = process.env.BOX_QC_SOAK === '1';
const SIGNALS = [
  ['SIGTERM', 143],
  ['SIGINT', 130],
  ['SIGHUP', 129],
] as const;

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('catchable signals during refresh --all (T4b)', () => {
  it(`${SOAK ? 600 : 200} iterations of SIGTERM/SIGINT/SIGHUP: 0 users lost, 128+n exit after the write`, async () => {
    lab = await startFaultLab({ rotation: 'strict' });
    const l = lab;
    l.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 150 });
    await seedFresh(l, USERS3);
    const row = emptyRow('T4b SIGTERM/SIGINT/SIGHUP, strict');
    const problems: string[] = [];
    const outcomes: Record<string, number> = {};
    const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
    const iterations = SOAK ? 600 : 200;
    const deadline = Date.now() + (SOAK ? 15 : 2.5) * 60_000;
    for (let i = 0; i < iterations && Date.now() < deadline; i++) {
      row.iterations += 1;
      const [sig, expectedCode] = SIGNALS[i % SIGNALS.length]!;
      const refreshesBefore = l.emu.stats().byGrantType.refresh_token ?? 0;
      const run = l.start(['refresh', '--all', '--force'], { timeoutMs: 60_000 });
      await sleep(Math.random() * 600);
      const delivered = run.child.exitCode === null && run.child.signalCode === null && run.child.kill(sig);
      const r = await run.done;
      await l.settle();
      const refreshed = (l.emu.stats().byGrantType.refresh_token ?? 0) - refreshesBefore;
      // Node restores default signal dispositions while it exits, so a signal in that last instant kills the
      // process after its work is done: recognised by the summary line printed at the end of the run.
      const finished = /^3 users: /m.test(r.stderr);
      if (!delivered || (r.code === 0 && r.signal === null)) count('finished before the signal');
      else if (r.signal === sig && finished) count(`killed by ${sig} while exiting, after the run`);
      else if (r.signal === sig) count(`killed by ${sig} (before handlers)`);
      else if (r.code === expectedCode) count(`exit ${expectedCode}`);
      else {
        count(`unexpected exit ${r.code}/${r.signal}`);
        problems.push(`#${i} ${sig}: expected exit ${expectedCode}\n${describeResult(r)}`);
      }
      if (r.signal === sig && !finished && refreshed > 0)
        problems.push(`#${i} died by ${sig} mid-run after ${refreshed} refresh POST(s)\n${describeResult(r)}`);

      const st = await readStoreState(l.storePath);
      if (!st.ok) {
        row.corrupted += 1;
        problems.push(`#${i}: ${st.error}`);
        break;
      }
      const foreign = foreignPairs(l, st.doc);
      if (foreign.length) problems.push(`#${i}: pair never issued for ${foreign.join(', ')}`);
      for (const v of judgeUsers(l, st.doc)) {
        if (!v.lost) continue;
        row.lost += 1;
        row.unexplained += 1;
        row.lostWhy[v.lost] = (row.lostWhy[v.lost] ?? 0) + 1;
        problems.push(`#${i} ${sig}: ${v.email} lost (${v.lost})\n${describeResult(r)}`);
      }
      const left = (await leftoverWorkFiles(l.dir)).filter((n) => n.endsWith('.lock'));
      if (left.length) {
        row.stuck += left.length;
        problems.push(`#${i} ${sig}: lock left behind by a graceful exit: ${left.join(', ')}`);
      }
      if (problems.length > 20) break;
    }
    // A clean run at the end: every user still refreshes, and nothing is left over.
    const clean = await l.cli(['refresh', '--all', '--force']);
    if (clean.code !== 0) problems.push(`final clean run\n${describeResult(clean)}`);
    const left = await leftoverWorkFiles(l.dir);
    row.litter += left.length;
    const leaks = l.leaks();
    row.leaks = leaks.length;
    row.secretsChecked = l.secrets().size;
    row.failed = problems.length;
    row.notes =
      (row.iterations < iterations ? `time budget hit after ${row.iterations}; ` : '') +
      Object.entries(outcomes)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ');
    recordRow(row);
    expect(problems, problems.join('\n\n')).toEqual([]);
    expect(leaks).toEqual([]);
    expect(rowOk(row), JSON.stringify(row)).toBe(true);
  });
});
