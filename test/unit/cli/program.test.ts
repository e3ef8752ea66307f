import { mkdtempSync, writeFileSync } from 'node:fs';
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

  it.each([
    [['bogus']],
    [['status', '--bogus']],
    [['--bogus']],
    [['ls', '0', 'extra', 'args', 'here']],
    [['--store']],
  ])('usage errors exit 2 with one error line and the usage line: %j', async (argv) => {
    const r = await runInProcess(argv);
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: /);
    expect(lines.some((l) => l.startsWith('usage: box-qc'))).toBe(true);
    expect(r.stderr).not.toContain('    at ');
  });

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
});
