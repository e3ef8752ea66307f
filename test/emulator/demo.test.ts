/** Issue 4 "Done when": `npm run demo` passes in CI. Runs scripts/demo.js (needs the build, as `npm test` does). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeResult, type CliResult } from '../helpers/run-cli.js';
import { assertDistFresh } from '../helpers/dist-fresh.js';

const DEMO = fileURLToPath(new URL('../../scripts/demo.js', import.meta.url));

function runDemo(): Promise<CliResult> {
  assertDistFresh();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  it('connects, lists, refreshes, prints a masked token and disconnects against the emulator, exiting 0', async () => {
    const r = await runDemo();
    expect(r.code, describeResult(r)).toBe(0);
    for (const cmd of ['connect', 'status', 'ls 0', 'refresh --force', 'token', 'disconnect'])
      expect(r.stdout).toContain(`$ box-qc ${cmd}`);
    expect(r.stdout).toContain('Demo passed');
    expect(r.stdout).toMatch(/characters, masked\)/);
    // The whole token never appears: only 4 + 2 of its characters are shown.
    expect(r.stdout).not.toMatch(/^\s*[A-Za-z0-9]{32}\s*$/m);
    expect(r.stdout).not.toContain('\u001b');
  }, 100_000);
});
