/**
 * Issue 17: when BOX_QC_PUBLIC_URL is set, every place that tells an operator a user must reconnect names
 * `box-qc invite --email <email>` (the user connects from their own browser); without it, `box-qc connect`.
 * refresh and status (text, and --json's reconnect_command), token's error hint, and a connect that did not finish.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { EMAIL, cliEnv, tempStore, userRecord, writeStore } from './connect-helpers.js';
import { iso } from '../helpers/time.js';

const PUBLIC = 'https://qc.example.com/box-qc';
const INVITE = `box-qc invite --email ${EMAIL}`;
const CONNECT = `box-qc connect --email ${EMAIL}`;
let emu: Emulator;
let storePath: string;
beforeEach(async () => {
  emu = await startEmulator();
  storePath = (await tempStore()).storePath;
  const dead = userRecord({ access_token: 'dead-at', refresh_token: 'dead-rt' }, Date.now(), {
    access_token_expires_at: iso(Date.now() - 60_000),
    needs_reconnect: {
      reason: 'refresh_token_invalid',
      message: 'Box rejected the refresh token',
      at: iso(Date.now()),
    },
  });
  await writeStore(storePath, { [EMAIL]: dead });
});
afterEach(async () => emu.close());

const env = (pub: boolean) => cliEnv(emu, storePath, pub ? { BOX_QC_PUBLIC_URL: PUBLIC } : {});

describe('reconnect hints', () => {
  it.each([true, false])('refresh names the right command (public URL set: %s)', async (pub) => {
    const r = await runCli(['refresh', '--email', EMAIL], { env: env(pub) });
    expect(r.code, describeResult(r)).toBe(4);
    expect(r.stderr).toContain(`run: ${pub ? INVITE : CONNECT}`);
    if (pub) expect(r.stderr).not.toContain(CONNECT);
  });

  it.each([true, false])('status names the right command (public URL set: %s)', async (pub) => {
    // The table's action column (issue 21), and the full record with --long.
    const r = await runCli(['status'], { env: env(pub) });
    expect(r.stdout, describeResult(r)).toContain(pub ? INVITE : CONNECT);
    if (pub) expect(r.stdout).not.toContain(CONNECT);
    const long = await runCli(['status', '--long'], { env: env(pub) });
    expect(long.stdout, describeResult(long)).toContain(`run: ${pub ? INVITE : CONNECT}`);
    if (pub) expect(long.stdout).not.toContain(CONNECT);
  });

  it.each([true, false])("token's error hint names the right command (public URL set: %s)", async (pub) => {
    const r = await runCli(['token', '--email', EMAIL], { env: env(pub) });
    expect(r.code, describeResult(r)).toBe(4);
    expect(r.stderr).toContain(`run: ${pub ? INVITE : CONNECT}`);
    const j = await runCli(['--json', 'token', '--email', EMAIL], { env: env(pub) });
    expect(JSON.parse(j.stdout).error.hint).toBe(`run: ${pub ? INVITE : CONNECT}`);
  });

  it.each([true, false])(
    '--json refresh and status carry the command as reconnect_command (public URL set: %s)',
    async (pub) => {
      const want = pub ? INVITE : CONNECT;
      const r = await runCli(['--json', 'refresh', '--email', EMAIL], { env: env(pub) });
      expect(r.code, describeResult(r)).toBe(4);
      expect(JSON.parse(r.stdout).users[0]).toMatchObject({
        email: EMAIL,
        status: 'needs_reconnect',
        reconnect_command: want,
      });
      // The whole listing (streamed) and one user's.
      for (const args of [['status'], ['status', '--email', EMAIL]]) {
        const s = await runCli(['--json', ...args], { env: env(pub) });
        expect(JSON.parse(s.stdout).users[0], describeResult(s)).toMatchObject({
          email: EMAIL,
          reconnect_command: want,
        });
      }
    },
  );

  it('a connect that did not finish suggests an invite link when the public URL is set', async () => {
    const r = await runCli(['connect', '--email', EMAIL, '--no-browser', '--timeout', '1'], {
      env: env(true),
      input: '',
    });
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain(INVITE);
    const plain = await runCli(['connect', '--email', EMAIL, '--no-browser', '--timeout', '1'], {
      env: env(false),
      input: '',
    });
    expect(plain.code, describeResult(plain)).toBe(1);
    expect(plain.stderr).not.toContain('box-qc invite');
  });
});
