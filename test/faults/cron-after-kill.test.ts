/**
 * The cron view of a kill -9 inside the in-flight window (issue 7: a lost user is reported, never silently).
 * T4 runs `refresh --all --force` after each kill; cron runs `refresh --all` without --force. Under strict
 * rotation the refresh token the killed process sent is already spent, but the old access token is still
 * valid for up to an hour, so unless a leftover refresh_in_flight marker is itself a reason to refresh, the
 * cron run says "skipped" and exits 0 while the user is already lost: silent until the access token nears
 * expiry. Killed deterministically with strace at the rename of the new pair (see crash-points.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow } from './helpers/ledger.js';
import { judgeUsers, readStoreState } from './helpers/store-check.js';

const EMAIL = 'alice@example.com';

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('cron after a kill -9 in the in-flight window (strict rotation)', () => {
  it('the next plain `refresh --all` reports the user as refresh_interrupted (exit 4), not "skipped"', async () => {
    lab = await startFaultLab({ rotation: 'strict' });
    await lab.seed({ [EMAIL]: lab.mint(EMAIL) });
    const killed = await lab.cli(['refresh', '--email', EMAIL, '--force'], {
      wrap: ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'inject=rename:signal=SIGKILL:when=2'],
      env: { UV_THREADPOOL_SIZE: '1' },
    });
    expect(killed.signal ?? killed.code, describeResult(killed)).toMatch(/SIGKILL|137/);
    await lab.settle();
    const cron = await lab.cli(['refresh', '--all']);
    const st = await readStoreState(lab.storePath);
    const row = emptyRow('cron refresh --all after kill -9 in window', 1);
    row.iterations = 1;
    const verdict = st.ok ? judgeUsers(lab, st.doc)[0] : undefined;
    const dead = !lab.emu.isLive(st.ok ? st.doc.users[EMAIL]!.refresh_token : '');
    const reported = cron.code === 4 && /refresh was interrupted/.test(cron.stderr);
    if (dead) {
      row.lost = 1;
      row.lostWhy[verdict?.lost ?? 'silent'] = 1;
      if (!reported) row.unexplained = 1;
    }
    row.secretsChecked = lab.secrets().size;
    row.leaks = lab.leaks().length;
    row.notes = `cron run exit ${cron.code}: ${cron.stderr.trim().split('\n')[0] ?? ''}`;
    recordRow(row);
    expect(dead).toBe(true);
    expect(reported, describeResult(cron)).toBe(true);
  });
});
