/**
 * Review 3 #1: a signal's forced exit must end the process even while a write to a stalled stdout pipe is
 * stuck in a libuv worker thread. `process.exit()` waits for that thread, so it never returned: cron or a
 * `timeout` without -k hung for ever (and the pid kept any lock it held "alive"). The forced exit now
 * re-raises the signal with its default action when output is still queued.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/run-cli.js';
import { startLab, type Lab } from '../e2e/refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('a stop with stdout stalled', () => {
  it('ls to a pipe nobody reads, then SIGTERM: the process ends (143 / SIGTERM), it does not hang', async () => {
    lab = await startLab({ rootItems: 20_000 });
    await lab.mintAndSeed(['alice@example.com']);
    // stdout is a pipe this test never reads: the 64 KiB pipe buffer fills and a write blocks in the kernel.
    const child = spawn(process.execPath, ['--', BIN, 'ls', '0'], {
      env: lab.env(),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.pause();
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    const outcome = await Promise.race([ended, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (outcome === 'hung') child.kill('SIGKILL');
    expect(outcome).not.toBe('hung');
    const o = outcome as { code: number | null; signal: NodeJS.Signals | null };
    expect(o.code === 143 || o.signal === 'SIGTERM').toBe(true);
  }, 60_000);
});
