/** `box-qc emulator` as a user runs it: the built binary, stdout carries the URL and export lines. */
import { describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { control, startStandalone } from './standalone-helpers.js';

describe('box-qc emulator', () => {
  it('prints the base URL and the export lines on stdout, serves until SIGINT, then exits 0', async () => {
    const emu = await startStandalone(['--auto-approve', '--rotation', 'box-grace', '--items', '10']);
    expect(emu.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.lines.slice(1, 5)).toEqual([
      'export BOX_CLIENT_ID=emulator-client-id',
      'export BOX_CLIENT_SECRET=emulator-client-secret',
      `export BOX_API_BASE_URL=${emu.url}`,
      `export BOX_AUTHORIZE_URL=${emu.url}/api/oauth2/authorize`,
    ]);
    expect(await control(emu.url, 'GET', 'health')).toEqual({ ok: true, url: emu.url });
    const auth = await fetch(
      `${emu.url}/api/oauth2/authorize?response_type=code&client_id=emulator-client-id&redirect_uri=http://127.0.0.1:9/callback`,
      { redirect: 'manual' },
    );
    expect(auth.status).toBe(302);
    emu.child.kill('SIGINT');
    const r = await emu.done;
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain('rotation box-grace, auto-approve');
    expect(r.stderr).toContain('Box emulator stopped.');
  });

  it.each([
    ['no client flags', []],
    [
      '--client-id, --client-secret and --redirect-uri',
      ['--client-id', 'my-app', '--client-secret', 'my-secret', '--redirect-uri', 'http://127.0.0.1:7000/cb'],
    ],
  ])(
    "registers the emulator's default redirect URIs, http://[::1]/callback included, with %s",
    async (_name, flags) => {
      const emu = await startStandalone(['--auto-approve', ...flags]);
      try {
        const clientId = flags.length > 0 ? 'my-app' : 'emulator-client-id';
        const authorize = (redirectUri: string) =>
          fetch(
            `${emu.url}/api/oauth2/authorize?response_type=code&client_id=${clientId}&redirect_uri=${encodeURIComponent(redirectUri)}`,
            { redirect: 'manual' },
          );
        for (const uri of [
          'http://[::1]:9/callback',
          'http://127.0.0.1:9/callback',
          'http://localhost:9/callback',
          ...flags.slice(5),
        ]) {
          const res = await authorize(uri);
          expect(res.status, uri).toBe(302);
          expect(res.headers.get('location'), uri).toMatch(/[?&]code=/);
        }
        expect((await authorize('http://127.0.0.1:9/elsewhere')).status).not.toBe(302);
      } finally {
        emu.child.kill('SIGINT');
        await emu.done;
      }
    },
  );

  it('rejects an unknown rotation mode with exit 2', async () => {
    const r = await runCli(['emulator', '--rotation', 'sometimes']);
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toContain('strict, box-grace, family');
    expect(r.stdout).toBe('');
  });

  it('documents its switches and examples in --help', async () => {
    const r = await runCli(['emulator', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--auto-approve', '--rotation', '--items', '--marker-end', '--expired-token', 'Examples:'])
      expect(r.stdout).toContain(flag);
  });
});
