/**
 * Fault suite, issue 15 item 1 on a terminal: the spinner (ora) and the per-user lines of `refresh --all` on
 * an interactive stderr whose terminal dies mid-run (an SSH session dropped without SIGHUP reaching us):
 * every later write fails with EIO, asynchronously, as an 'error' event of Node's tty stream. 0 users lost,
 * exit 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN, cleanEnv, describeResult, type CliResult } from '../helpers/run-cli.js';
import { refreshCount, startLab } from '../e2e/refresh-fixtures.js';
import { emptyRow, recordRow } from './helpers/ledger.js';

const PTY_RUN = fileURLToPath(new URL('./helpers/pty-run.py', import.meta.url));

function runOnDyingTerminal(args: string[], env: Record<string, string>, closeAfterS: number): Promise<CliResult> {
  const child = spawn('python3', [PTY_RUN, String(closeAfterS), process.execPath, BIN, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe.skipIf(process.platform !== 'linux')('a terminal that dies under refresh --all (issue 15 item 1)', () => {
  it('spinner and per-user lines on a pty closed mid-run: every user refreshed and saved, exit 0', async () => {
    const lab = await startLab();
    const row = emptyRow('output streams: refresh --all on a terminal that dies');
    try {
      const logins = Array.from({ length: 20 }, (_, i) => `t${i}@example.com`);
      await lab.mintAndSeed(logins);
      lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 300 });
      // Colour and spinner on: an interactive terminal, no NO_COLOR, no CI. Concurrency 2: the run spans
      // several seconds, so the terminal closes while refreshes are in flight.
      const r = await runOnDyingTerminal(
        ['refresh', '--all', '--force', '--concurrency', '2'],
        lab.env({ NO_COLOR: '', TERM: 'xterm-256color' }),
        0.8,
      );
      const doc = await lab.readStore();
      const lost = logins.filter((e) => !lab.emu.isLive(doc.users[e]!.refresh_token));
      row.iterations = logins.length;
      row.lost = lost.length;
      row.unexplained = lost.length;
      row.failed = r.code === 0 ? 0 : 1;
      recordRow(row);
      expect(r.stderr, describeResult(r)).toMatch(/pty saw [1-9]\d* bytes/);
      expect(r.code, describeResult(r)).toBe(0);
      expect(lost).toEqual([]);
      expect(refreshCount(lab)).toBe(logins.length);
    } finally {
      await lab.close();
    }
  });
});
