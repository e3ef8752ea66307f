/** Issue 18: the notify command runner: stdin, exit status, the timeout that kills the whole process group. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNotifyCommand } from '../../../src/core/health/notify-command.js';

const killGroup = (pid: number) => process.kill(-pid, 'SIGKILL');

/** Running or sleeping; a zombie (killed, waiting for a PID 1 that may never reap it) counts as dead. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('runNotifyCommand', () => {
  it('gives the body on stdin and resolves on exit 0; exit 3 is a failure; output goes to debug escaped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-nc-'));
    const lines: string[] = [];
    const debug = (l: string) => lines.push(l);
    await runNotifyCommand({
      command: `cat > '${dir}/in'`,
      body: '{"a":1}',
      env: { PATH: '/bin:/usr/bin' },
      killGroup,
      debug,
    });
    expect(await readFile(join(dir, 'in'), 'utf8')).toBe('{"a":1}');
    await expect(
      runNotifyCommand({ command: "printf 'x\\033]0;t\\007'; exit 3", body: '', env: {}, killGroup, debug }),
    ).rejects.toThrow('the notify command exited 3');
    expect(lines.join('\n')).toContain('x\\x1b]0;t\\x07');
  });

  it('a command past its timeout is killed with everything it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-nc-'));
    await expect(
      runNotifyCommand({
        command: `sleep 30 & echo $! > '${dir}/pid'; wait`,
        body: '',
        env: { PATH: '/bin:/usr/bin' },
        timeoutMs: 300,
        killGroup,
        debug: () => undefined,
      }),
    ).rejects.toThrow(/timed out after 0.3 s/);
    const pid = Number((await readFile(join(dir, 'pid'), 'utf8')).trim());
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});
