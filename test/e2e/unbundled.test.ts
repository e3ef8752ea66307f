/**
 * The development switch BOX_QC_UNBUNDLED=1 (bin/box-qc.js, README "Development"): the box-qc command runs
 * tsc's dist/main.js with source maps on instead of the bundle, so a --debug stack trace names src/*.ts
 * (issue 16 item 5). And the bundle ships a linked source map back to src/ for `node --enable-source-maps`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { BIN, describeResult, runCli } from '../helpers/run-cli.js';

const BUNDLE = join(BIN, '..', '..', 'dist', 'cli', 'main.cjs');
let dir: string;
let env: Record<string, string>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-unbundled-'));
  // A folder where the store file should be: `status` fails with exit 2 (an unreadable store).
  mkdirSync(join(dir, 'tokens.json'));
  env = { HOME: dir, BOX_QC_STORE: join(dir, 'tokens.json') };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('BOX_QC_UNBUNDLED=1', () => {
  it('runs box-qc --version from dist/ as usual', async () => {
    const r = await runCli(['--version'], { env: { ...env, BOX_QC_UNBUNDLED: '1' } });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('makes a --debug stack trace of a failing command name src/*.ts lines, not the bundle', async () => {
    const r = await runCli(['status', '--debug'], { env: { ...env, BOX_QC_UNBUNDLED: '1' } });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr, describeResult(r)).toMatch(
      /\bat .*[/\\]src[/\\]core[/\\]store[/\\]file[/\\]read-store\.ts:\d+:\d+/,
    );
    expect(r.stderr).not.toContain('main.cjs');
  });

  it('is off by default: the same failure traces into the bundle', async () => {
    const r = await runCli(['status', '--debug'], { env });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr, describeResult(r)).toContain(join('dist', 'cli', 'main.cjs'));
    expect(r.stderr).not.toMatch(/\.ts:\d+/);
  });
});

describe('the bundle source map', () => {
  it('is linked from dist/cli/main.cjs and leads back to src/', () => {
    expect(readFileSync(BUNDLE, 'latin1')).toMatch(/\n\/\/# sourceMappingURL=main\.cjs\.map\n$/);
    const map = JSON.parse(readFileSync(`${BUNDLE}.map`, 'utf8')) as { sources: string[] };
    expect(map.sources).toContain('../../src/main.ts');
    expect(map.sources).toContain('../../src/core/session.ts');
  });
});
