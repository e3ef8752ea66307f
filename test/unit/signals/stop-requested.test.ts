/**
 * REVIEW-2 finding 1: a signal inside a critical section is recorded at once in `stopRequested` (so no new
 * refresh starts), while `signal` stays held until the section ends (so the POST already out is saved).
 * Runs the built module (npm run build) in a child process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertDistFresh } from '../../helpers/dist-fresh.js';

const MODULE = fileURLToPath(new URL('../../../dist/process-signals.js', import.meta.url));

describe.skipIf(process.platform === 'win32')('stopRequested', () => {
  it('is aborted the moment SIGTERM arrives inside a section, with exit code 143; signal only after the section', async () => {
    const script = `import { installProcessInterrupts } from ${JSON.stringify(MODULE)};
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const it = installProcessInterrupts(() => {});
      const seen = [];
      await it.critical(async () => {
        process.kill(process.pid, 'SIGTERM');
        await sleep(100);
        seen.push(String(it.stopRequested?.aborted), String(it.signal.aborted), String(it.stopRequested?.reason?.exitCode));
      });
      seen.push(String(it.signal.aborted));
      process.stdout.write(seen.join(' '));
      process.exit(0);`;
    assertDistFresh();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise((r) => child.on('close', r));
    expect(out).toBe('true false 143 true');
  }, 20_000);
});
