/** `ls` rendering in process (run(argv, deps) against the emulator): terminal columns, JSON after a failure. */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { runInProcess } from '../../helpers/fake-deps.js';
import { iso } from '../../helpers/time.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function env(rootItems: number) {
  emu = await startEmulator({ port: 0, rootItems });
  const m = emu.mint({ login: 'alice@example.com' });
  const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-ls-')), 'box-qc');
  await mkdir(dir, { mode: 0o700 });
  const storePath = join(dir, 'tokens.json');
  await writeFile(
    storePath,
    JSON.stringify({
      version: 1,
      users: {
        'alice@example.com': {
          access_token: m.access_token,
          refresh_token: m.refresh_token,
          access_token_expires_at: iso(Date.now() + 3_000_000),
          connected_at: iso(Date.now()),
          updated_at: iso(Date.now()),
        },
      },
    }),
    { mode: 0o600 },
  );
  return { ...emu.env(), BOX_QC_STORE: storePath, BOX_QC_RETRY_BASE_MS: '1' };
}

describe('ls rendering', () => {
  it('aligns type, id and name columns on a terminal and escapes control characters', async () => {
    const r = await runInProcess(['ls', '--limit', '20'], { env: await env(50), stdoutTTY: true });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20);
    const nameColumn = new Set(lines.map((l) => /^(\S+\s+\S+\s+)/.exec(l)![1]!.length));
    expect(nameColumn.size).toBe(1);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\t');
  });

  it('--json keeps what was streamed a closed array when a later page fails for good', async () => {
    const e = await env(2345);
    emu!.faults.add({ route: '/2.0/folders/*/items', action: 'status', status: 500, skip: 1 });
    const r = await runInProcess(['ls', '--json'], { env: e });
    expect(r.exitCode).toBe(75);
    const firstDoc = r.stdout.slice(0, r.stdout.indexOf('\n]\n') + 3);
    expect(JSON.parse(firstDoc)).toHaveLength(1000);
    expect(JSON.parse(r.stdout.slice(firstDoc.length))).toMatchObject({ ok: false, error: { exitCode: 75 } });
  });
});
