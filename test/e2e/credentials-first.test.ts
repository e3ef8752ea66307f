/**
 * Issue 15 item 15: every command that may call Box's OAuth endpoints (connect, disconnect, refresh, token,
 * ls) checks the client id and secret before anything else: a missing one is exit 2 naming the variable,
 * never exit 4 for a user already marked needs_reconnect, and nothing reaches Box. Decision (issue 15):
 * `token` and `ls` check it even when the stored access token is fresh, so a misconfigured cron host fails
 * at once instead of at the next refresh.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { startLab, type Lab } from './refresh-fixtures.js';
import { iso } from '../helpers/time.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const EMAIL = 'alice@example.com';
const marked = {
  needs_reconnect: { reason: 'refresh_token_invalid', message: 'Box rejected the refresh token', at: iso(Date.now()) },
};

const COMMANDS: Array<[string, string[]]> = [
  ['token', ['token', '--email', EMAIL]],
  ['refresh', ['refresh', '--email', EMAIL]],
  ['refresh --all', ['refresh', '--all']],
  ['ls', ['ls', '--email', EMAIL]],
  ['disconnect', ['disconnect', '--email', EMAIL]],
  ['connect', ['connect', '--email', EMAIL, '--print-url']],
];

describe('client credentials are checked first', () => {
  for (const [name, argv] of COMMANDS) {
    for (const missing of ['BOX_CLIENT_SECRET', 'BOX_CLIENT_ID']) {
      it(`${name}: ${missing} unset -> exit 2 naming it, even for a user marked needs_reconnect; nothing sent`, async () => {
        lab = await startLab();
        const a = lab.emu.mint({ login: EMAIL });
        await lab.seed({ [EMAIL]: { ...a, expiresInMs: -60_000, extra: marked } });
        const r = await lab.cli(argv, { [missing]: '' });
        expect(r.code, describeResult(r)).toBe(2);
        expect(r.stderr).toContain(`${missing} is not set`);
        expect(lab.emu.stats().total).toBe(0);
      });
    }
  }

  it('token with a fresh access token and no secret: exit 2 as well (the issue asks for credentials first)', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: EMAIL });
    await lab.seed({ [EMAIL]: a });
    const r = await lab.cli(['token', '--email', EMAIL], { BOX_CLIENT_SECRET: '' });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('--json: one error document with E_CONFIG_MISSING_CREDENTIALS', async () => {
    lab = await startLab();
    await lab.seed({ [EMAIL]: { ...lab.emu.mint({ login: EMAIL }), extra: marked } });
    const r = await lab.cli(['token', '--email', EMAIL, '--json'], { BOX_CLIENT_SECRET: '' });
    expect(r.code, describeResult(r)).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'E_CONFIG_MISSING_CREDENTIALS' } });
  });
});
