import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../../helpers/fake-deps.js';
import { VERSION } from '../../../src/version.js';
import pkg from '../../../package.json' with { type: 'json' };

describe('the CLI frame', () => {
  it('--version prints the package version', async () => {
    const r = await runInProcess(['--version']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(VERSION).toBe(pkg.version);
  });

  it('--help lists every subcommand and the exit codes', async () => {
    const r = await runInProcess(['--help']);
    expect(r.exitCode).toBe(0);
    for (const name of ['connect', 'status', 'disconnect', 'ls', 'refresh', 'token', 'emulator']) {
      expect(r.stdout).toContain(name);
    }
    for (const flag of ['--store', '--json', '--no-color', '--debug', '--env-file']) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('75');
  });

  it.each(['connect', 'status', 'disconnect', 'ls', 'refresh', 'token'])('%s --help has examples', async (name) => {
    const r = await runInProcess([name, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Examples?:/);
    expect(r.stdout).toContain(`box-qc ${name}`);
  });

  it.each([[['bogus']], [['status', '--bogus']], [['--bogus']], [['ls', '0', 'extra', 'args', 'here']], [['--store']]])(
    'usage errors exit 2 with one error line and the usage line: %j',
    async (argv) => {
      const r = await runInProcess(argv);
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^error: /);
      expect(lines.some((l) => l.startsWith('usage: box-qc'))).toBe(true);
      expect(r.stderr).not.toContain('    at ');
    },
  );

  it('a usage error under --json is also one JSON document on stdout', async () => {
    const r = await runInProcess(['status', '--json', '--bogus']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
  });

  it('--env-file loads variables without overriding those already set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'boxqc-env-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'BOX_QC_STORE=/from/file.json\nBOX_CLIENT_ID=file-id\n');
    const r = await runInProcess(['--env-file', file, 'status', '--json'], {
      env: { BOX_CLIENT_ID: 'env-id' },
    });
    expect(r.env.BOX_QC_STORE).toBe('/from/file.json');
    expect(r.env.BOX_CLIENT_ID).toBe('env-id');
  });

  it('a missing --env-file is a configuration error (exit 2)', async () => {
    const r = await runInProcess(['--env-file', '/nonexistent/.env', 'status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--env-file /nonexistent/.env');
  });

  // issue 15 item 12: box-qc reads the file itself: one line, exit 2, one JSON document under --json.
  it.each([
    ['a folder', (dir: string) => dir, /is a folder/],
    ['a path through a file', (dir: string) => join(writeEnv(dir, 'X=1\n'), 'sub'), /no such file|not a folder/],
    ['too large (over 1 MiB)', (dir: string) => writeEnv(dir, `A=${'x'.repeat(1024 * 1024)}\n`), /too large/],
  ])(
    'an --env-file that is %s is exit 2 with one line, and one JSON document under --json',
    async (_what, make, reason) => {
      const dir = mkdtempSync(join(tmpdir(), 'boxqc-env-'));
      const path = make(dir);
      const r = await runInProcess(['--env-file', path, 'status']);
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^error: --env-file /);
      expect(lines[0]).toMatch(reason);
      expect(r.stderr).not.toContain('    at ');
      const j = await runInProcess(['--env-file', path, 'status', '--json']);
      expect(j.exitCode).toBe(2);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: 'E_CONFIG_ENV_FILE' } });
    },
  );

  it.each([
    [['--env-file', '', 'status']],
    [['--env-file=', 'status']],
    [['store', 'migrate', '--from', '', '--to', '/nonexistent/x.json']],
  ])('an empty --env-file or store argument is exit 2 saying it is empty: %j', async (argv) => {
    const r = await runInProcess(argv);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: .*\bis empty\b/);
  });

  it('--env-file strips a UTF-8 byte order mark and never overrides a variable set to the empty string', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'boxqc-env-'));
    const file = writeEnv(
      dir,
      '\uFEFFBOX_QC_STORE=/from/file.json\nBOX_QC_EMAIL=file@example.com\nexport BOX_CLIENT_ID="quoted id"\n',
    );
    const r = await runInProcess(['--env-file', file, 'status', '--json'], { env: { BOX_QC_EMAIL: '' } });
    expect(r.env.BOX_QC_STORE).toBe('/from/file.json');
    expect(r.env.BOX_QC_EMAIL).toBe('');
    expect(r.env.BOX_CLIENT_ID).toBe('quoted id');
  });

  // issue 15 item 10: commander echoed unknown options with their values (`--client-secret=...`).
  it.each([
    [['status', '--client-secret=S3CRET-VALUE'], "unknown option '--client-secret'"],
    [['--client-secret=S3CRET-VALUE', 'status'], "unknown option '--client-secret'"],
    [['status', '--client-secret', 'S3CRET-VALUE'], "unknown option '--client-secret'"],
    [['status', '-xS3CRET-VALUE'], "unknown option '-x'"],
    [['refresh', '--min-valid', 'S3CRET-VALUE'], "option '--min-valid <duration>'"],
    [['refresh', '--min-valid=S3CRET-VALUE'], "option '--min-valid <duration>'"],
    [['S3CRET-VALUE'], 'unknown command'],
    [['status', 'S3CRET-VALUE'], 'too many arguments'],
  ])('a usage error never echoes a value: %j', async (argv, shown) => {
    for (const args of [argv, [...argv, '--json']]) {
      const r = await runInProcess(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(shown);
      expect(r.stderr + r.stdout).not.toContain('S3CRET');
    }
  });

  // issue 15 item 11: `--store "$UNSET"` used the default store (and `disconnect --all` revoked all of it).
  it.each([
    [['status', '--store', ''], {}, '--store'],
    [['status', '--store=  '], {}, '--store'],
    [['--store', '', 'disconnect', '--all'], {}, '--store'],
    [['status'], { BOX_QC_STORE: '' }, 'BOX_QC_STORE'],
    [['disconnect', '--all'], { BOX_QC_STORE: ' ' }, 'BOX_QC_STORE'],
  ])('an empty store setting is exit 2 and touches no store: %j %j', async (argv, env, named) => {
    const home = mkdtempSync(join(tmpdir(), 'boxqc-home-'));
    const storePath = join(home, '.config', 'box-qc', 'tokens.json');
    mkdirSync(join(home, '.config', 'box-qc'), { recursive: true, mode: 0o700 });
    const doc = JSON.stringify({ version: 1, users: {} });
    writeFileSync(storePath, doc, { mode: 0o600 });
    for (const args of [argv, [...argv, '--json']]) {
      const r = await runInProcess(args, {
        homeDir: home,
        env: { BOX_CLIENT_ID: 'id', BOX_CLIENT_SECRET: 'sec', ...env },
      });
      expect(r.exitCode, r.stderr + r.stdout).toBe(2);
      expect(r.stderr + r.stdout).toContain(named);
      expect(r.stdout).not.toContain(storePath);
    }
    expect(readFileSync(storePath, 'utf8')).toBe(doc);
  });

  // issue 15 items 8 and 10, at the program level: exit 2 before anything is read or sent, no secret shown.
  it.each([
    [{ BOX_API_BASE_URL: 'http://box.localhost:1' }, 'BOX_API_BASE_URL'],
    [{ BOX_AUTHORIZE_URL: 'http://login.localhost:1/authorize' }, 'BOX_AUTHORIZE_URL'],
    [{ BOX_API_BASE_URL: 'https://alice:hunter2-pw@api.box.com' }, 'BOX_API_BASE_URL'],
  ])('status with %j is exit 2 naming the variable', async (env, name) => {
    for (const args of [['status'], ['status', '--json'], ['--debug', 'status']]) {
      const r = await runInProcess(args, { env: { BOX_QC_STORE: '/nonexistent/tokens.json', ...env } });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr + r.stdout).toContain(name);
      expect(r.stderr + r.stdout).not.toContain('hunter2');
    }
  });
});

function writeEnv(dir: string, content: string): string {
  const file = join(dir, '.env');
  writeFileSync(file, content);
  return file;
}
