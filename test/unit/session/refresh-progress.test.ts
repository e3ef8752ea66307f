/** `refresh --all` on an interactive stderr: the progress spinner and the per-user lines coexist, exit 0. */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { run } from '../../../src/cli.js';
import { CaptureStream, fakeDeps } from '../../helpers/fake-deps.js';
import { iso } from '../../helpers/time.js';

/** Enough of a TTY for ora: cursor moves are recorded as text. */
class FakeTty extends CaptureStream {
  columns = 100;
  cursorTo() {
    return true;
  }
  moveCursor() {
    return true;
  }
  clearLine() {
    return true;
  }
}

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('refresh --all progress', () => {
  it('prints one line per user on an interactive stderr while showing progress', async () => {
    emu = await startEmulator({ port: 0 });
    const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-prog-')), 'box-qc');
    await mkdir(dir, { mode: 0o700 });
    const users: Record<string, unknown> = {};
    for (let i = 0; i < 5; i++) {
      const m = emu.mint({ login: `u${i}@example.com` });
      users[`u${i}@example.com`] = {
        access_token: m.access_token,
        refresh_token: m.refresh_token,
        access_token_expires_at: iso(Date.now() - 1000),
        connected_at: iso(Date.now()),
        updated_at: iso(Date.now()),
      };
    }
    await writeFile(join(dir, 'tokens.json'), JSON.stringify({ version: 1, users }), { mode: 0o600 });
    const f = fakeDeps({ env: { ...emu.env(), BOX_QC_STORE: join(dir, 'tokens.json'), TERM: 'xterm' } });
    const tty = new FakeTty(true);
    f.deps.stderr = tty;
    const exitCode = await run(['refresh', '--all'], f.deps);
    const r = { stderr: tty.text };
    expect(exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('refreshing');
    for (let i = 0; i < 5; i++) expect(r.stderr).toMatch(new RegExp(`refreshed\\s+u${i}@example\\.com`));
    expect(r.stderr).toContain('5 users: 5 refreshed');
  });
});
