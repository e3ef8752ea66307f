/** `box-qc token` end to end: the token alone on stdout, email resolution, exit 4 / exit 2. */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('token', () => {
  it('prints the stored access token alone on stdout without calling Box when it is fresh', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: 'alice@example.com' });
    await lab.seed({ 'alice@example.com': a });
    const r = await lab.cli(['token']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toBe(`${a.access_token}\n`);
    expect(r.stderr).toBe('');
    expect(lab.emu.stats().total).toBe(0);
  });

  it('refreshes an expired token first, and --debug shows the grant but never a token', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const before = await lab.readStore();
    const r = await lab.cli(['token', '--debug']);
    expect(r.code, describeResult(r)).toBe(0);
    const stored = (await lab.readStore()).users['alice@example.com']!;
    expect(r.stdout.trim()).toBe(stored.access_token);
    expect(r.stderr).toContain('POST /oauth2/token -> 200');
    expect(r.stderr).toContain('grant refresh_token');
    for (const secret of [
      stored.access_token,
      stored.refresh_token,
      before.users['alice@example.com']!.refresh_token,
      lab.env().BOX_CLIENT_SECRET!,
    ]) {
      expect(r.stderr).not.toContain(secret);
    }
    expect(refreshCount(lab)).toBe(1);
  });

  it('--min-valid forces a refresh when the token expires sooner', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com']);
    const r = await lab.cli(['token', '--min-valid', '2h']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(refreshCount(lab)).toBe(1);
  });

  it('picks BOX_QC_EMAIL, exits 2 listing the choices when ambiguous, and 4 for an unknown email', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com', 'bob@example.com']);
    const ambiguous = await lab.cli(['token']);
    expect(ambiguous.code, describeResult(ambiguous)).toBe(2);
    expect(ambiguous.stderr).toContain('alice@example.com, bob@example.com');
    expect(ambiguous.stdout).toBe('');
    const viaEnv = await lab.cli(['token'], { BOX_QC_EMAIL: 'Bob@Example.com' });
    expect(viaEnv.code, describeResult(viaEnv)).toBe(0);
    expect(viaEnv.stdout.trim()).toBe((await lab.readStore()).users['bob@example.com']!.access_token);
    const unknown = await lab.cli(['token', '--email', 'carol@example.com', '--json']);
    expect(unknown.code, describeResult(unknown)).toBe(4);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, error: { code: 'E_NOT_CONNECTED' } });
  });
});
