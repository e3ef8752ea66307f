/**
 * Fault suite, REVIEW-1 finding 4 (and the class of finding 5: nothing that ends the process cuts a refresh
 * between its POST and its save): the terminal hangs up while the refresh POST is held by Box. The master of
 * the pty is closed (every write to it now fails with EIO) and SIGHUP arrives inside the critical section:
 * the "saving the new tokens before stopping" notice goes to a dead terminal. It must cost that line only:
 * the new pair is saved, the marker cleared, and the process exits 129 (not 1, not 134, not killed).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanEnv, describeResult, type CliResult } from '../helpers/run-cli.js';
import { MAIN } from './helpers/lab.js';
import { refreshCount, startLab } from '../e2e/refresh-fixtures.js';
import { emptyRow, recordRow } from './helpers/ledger.js';

const PTY_HUP = fileURLToPath(new URL('./helpers/pty-hup.py', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the CLI on a pty; hangs the pty up (close + SIGHUP) once `when()` holds. */
function runThenHangUp(args: string[], env: Record<string, string>, when: () => boolean): Promise<CliResult> {
  const child = spawn('python3', [PTY_HUP, process.execPath, MAIN, ...args], {
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  void (async () => {
    while (!when() && child.exitCode === null) await sleep(5);
    child.stdin.end('go\n');
  })();
  return done;
}

describe.skipIf(process.platform !== 'linux')(
  'the terminal hangs up during the refresh POST (REVIEW-1 finding 4)',
  () => {
    for (const args of [
      ['refresh', '--force'],
      ['refresh', '--all', '--force'],
    ]) {
      it(`${args.join(' ')}: SIGHUP and EIO while Box holds the answer: the new pair is saved, exit 129`, async () => {
        const lab = await startLab();
        const row = emptyRow(`signals: SIGHUP + dead terminal mid-POST (${args.join(' ')})`);
        try {
          const email = 'hup@example.com';
          await lab.mintAndSeed([email]);
          const before = (await lab.readStore()).users[email]!.refresh_token;
          lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 1500 });
          const r = await runThenHangUp(
            [...args, '--email', email].filter(
              (a, i, all) => !(all.includes('--all') && (a === '--email' || a === email)),
            ),
            lab.env({ NO_COLOR: '', TERM: 'xterm-256color' }),
            () => refreshCount(lab) > 0,
          );
          // Judge once Box has answered (logged when handled, whether or not anyone still listens).
          while (!lab.emu.requests.some((q) => q.grantType === 'refresh_token')) await sleep(20);
          const user = (await lab.readStore()).users[email]!;
          row.iterations = 1;
          row.lost = lab.emu.isLive(user.refresh_token) ? 0 : 1;
          row.unexplained = row.lost;
          row.failed = r.code === 129 ? 0 : 1;
          recordRow(row);
          expect(r.stderr, describeResult(r)).toMatch(/SIGHUP sent/);
          expect(refreshCount(lab)).toBe(1);
          expect(user.refresh_token).not.toBe(before);
          expect(lab.emu.isLive(user.refresh_token), describeResult(r)).toBe(true);
          expect(user.refresh_in_flight).toBeUndefined();
          expect(r.code, describeResult(r)).toBe(129);
        } finally {
          await lab.close();
        }
      });
    }
  },
);
