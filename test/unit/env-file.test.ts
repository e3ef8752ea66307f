/** --env-file read by box-qc itself (issue 15 item 12): Node's dotenv syntax, one ConfigError for every bad file. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { MAX_ENV_FILE_BYTES, applyEnvFile, readEnvFile } from '../../src/env-file.js';
import { ConfigError } from '../../src/errors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'boxqc-envf-'));

function refusal(path: string): ConfigError {
  try {
    readEnvFile(path);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('E_CONFIG_ENV_FILE');
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).not.toContain('\n');
    return err as ConfigError;
  }
  throw new Error(`readEnvFile(${path}) did not throw`);
}

describe('readEnvFile', () => {
  it('parses exactly as Node does (util.parseEnv): quotes, export, comments, multi-line values', () => {
    const text =
      'A=1\n# comment\nexport B="two words"\nC=\'single\'\nD="line1\nline2"\nE=x # trailing\n  F = spaced \n';
    const file = join(dir(), '.env');
    writeFileSync(file, text);
    expect(readEnvFile(file)).toEqual(parseEnv(text));
  });

  it('strips a UTF-8 byte order mark', () => {
    const file = join(dir(), '.env');
    writeFileSync(file, '\uFEFFBOX_CLIENT_ID=abc\n');
    expect(readEnvFile(file)).toEqual({ BOX_CLIENT_ID: 'abc' });
  });

  it('refuses a missing file, a folder, a FIFO (without hanging), a device and a file over the cap', () => {
    const d = dir();
    expect(refusal(join(d, 'absent')).message).toMatch(/no such file/);
    expect(refusal(d).message).toMatch(/is a folder/);
    const fifo = join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(refusal(fifo).message).toMatch(/not a regular file/);
    expect(refusal('/dev/zero').message).toMatch(/not a regular file/);
    const big = join(d, 'big');
    writeFileSync(big, Buffer.alloc(MAX_ENV_FILE_BYTES + 1, 0x41));
    expect(refusal(big).message).toMatch(/too large/);
    const loop = join(d, 'loop');
    symlinkSync(loop, loop);
    expect(refusal(loop).message).toMatch(/symbolic links/);
    expect(refusal('').message).toMatch(/is empty/);
  });

  it.skipIf(process.getuid?.() === 0)('refuses an unreadable file (permission denied)', () => {
    const file = join(dir(), '.env');
    writeFileSync(file, 'A=1\n');
    chmodSync(file, 0o000);
    expect(refusal(file).message).toMatch(/permission denied/);
  });

  it('follows a symlink to a regular file, like any reader', () => {
    const d = dir();
    writeFileSync(join(d, 'real'), 'A=1\n');
    symlinkSync(join(d, 'real'), join(d, 'link'));
    expect(readEnvFile(join(d, 'link'))).toEqual({ A: '1' });
  });
});

describe('applyEnvFile', () => {
  it('never overrides a variable already set, even to the empty string', () => {
    const env: Record<string, string | undefined> = { A: 'env', B: '' };
    applyEnvFile(env, { A: 'file', B: 'file', C: 'file' });
    expect(env).toEqual({ A: 'env', B: '', C: 'file' });
  });
});
