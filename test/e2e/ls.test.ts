/**
 * `box-qc ls` end to end (issue 6): complete listings in text and JSON, Box's retry signals, a 401 mid-listing,
 * 404, hostile names, and the three end-of-list marker variants.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const ITEMS = '/2.0/folders/*/items';

function textIds(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[1]!);
}

describe('ls', () => {
  it('lists a 2,345-item folder completely as tab-separated text and as one JSON array', async () => {
    lab = await startLab({ rootItems: 2345 });
    await lab.mintAndSeed(['alice@example.com']);
    const text = await lab.cli(['ls']);
    expect(text.code, describeResult(text)).toBe(0);
    const ids = textIds(text.stdout);
    expect(ids).toHaveLength(2345);
    expect(new Set(ids).size).toBe(2345);
    expect(text.stdout.split('\n')[0]).toMatch(/^(folder|file|web_link)\t\d+\t.+$/);
    const json = await lab.cli(['ls', '0', '--json']);
    expect(json.code, describeResult(json)).toBe(0);
    const items = JSON.parse(json.stdout) as Array<{ type: string; id: string; name: string }>;
    expect(items).toHaveLength(2345);
    expect(items.map((i) => i.id)).toEqual(ids);
    expect(lab.emu.stats().byRoute['GET /2.0/folders/:id/items']).toBe(6);
  });

  it('prints names with escape sequences harmlessly: no raw control byte on stdout', async () => {
    lab = await startLab({ rootItems: 300 });
    await lab.mintAndSeed(['alice@example.com']);
    for (const args of [['ls'], ['ls', '--json']]) {
      const r = await lab.cli(args);
      expect(r.code, describeResult(r)).toBe(0);
      expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout)).toBe(false);
    }
    const text = await lab.cli(['ls']);
    expect(text.stdout).toContain('\\x1b[');
  });

  it('completes through 429 x2 and a 503 mid-listing, waiting Retry-After', async () => {
    lab = await startLab({ rootItems: 2345 });
    await lab.mintAndSeed(['alice@example.com']);
    lab.emu.faults.add({ route: ITEMS, action: 'status', status: 429, retryAfterSeconds: 1, skip: 1, times: 2 });
    lab.emu.faults.add({ route: ITEMS, action: 'status', status: 503, skip: 1, times: 1 });
    const r = await lab.cli(['ls', '--debug']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(textIds(r.stdout)).toHaveLength(2345);
    expect(r.stderr.match(/retrying \S+ in 1000 ms/g)).toHaveLength(2);
    expect(lab.emu.stats().faultsApplied).toBe(3);
  });

  it('exits 75 after 5 attempts on a persistent 500', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com']);
    lab.emu.faults.add({ route: ITEMS, action: 'status', status: 500 });
    const r = await lab.cli(['ls']);
    expect(r.code, describeResult(r)).toBe(75);
    expect(lab.emu.stats().byRoute['GET /2.0/folders/:id/items']).toBe(5);
  });

  it('refreshes once on a 401 mid-listing and resumes from the same marker', async () => {
    lab = await startLab({ rootItems: 2345 });
    await lab.mintAndSeed(['alice@example.com']);
    lab.emu.faults.add({ route: ITEMS, action: 'status', status: 401, skip: 1, times: 1 });
    const r = await lab.cli(['ls', '--json']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(2345);
    expect(refreshCount(lab)).toBe(1);
  });

  it('refreshes when Box says the stored access token is no longer valid', async () => {
    lab = await startLab({ rootItems: 10 });
    await lab.mintAndSeed(['alice@example.com']);
    lab.emu.clock.advance(2 * 3600_000); // Box-side expiry; the store still thinks it is fresh
    const r = await lab.cli(['ls']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(textIds(r.stdout)).toHaveLength(10);
    expect(refreshCount(lab)).toBe(1);
  });

  it('exits 1 for an unknown folder, naming the login', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com']);
    const r = await lab.cli(['ls', '987654321']);
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain('folder 987654321 not found or not shared with alice@example.com');
  });

  it('--limit stops after n items', async () => {
    lab = await startLab({ rootItems: 2345 });
    await lab.mintAndSeed(['alice@example.com']);
    const r = await lab.cli(['ls', '--limit', '1500', '--json']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1500);
    expect(lab.emu.stats().byRoute['GET /2.0/folders/:id/items']).toBe(2);
  });

  for (const markerEnd of ['null', 'empty', 'absent'] as const) {
    it(`terminates when the last page's next_marker is ${markerEnd}`, async () => {
      lab = await startLab({ rootItems: 1500, markerEnd });
      await lab.mintAndSeed(['alice@example.com']);
      const r = await lab.cli(['ls']);
      expect(r.code, describeResult(r)).toBe(0);
      expect(textIds(r.stdout)).toHaveLength(1500);
      expect(lab.emu.stats().byRoute['GET /2.0/folders/:id/items']).toBe(2);
    });
  }
});

// Issue 8 (ls peak RSS, lock storm): requests travel over node:http, whose parser is native code, not undici's
// WebAssembly one; undici is still what carries them through a proxy (core/http/node-transport.ts).
describe('HTTP transport', () => {
  async function undiciLoaded(extra: Record<string, string>, args = ['ls']): Promise<boolean> {
    const dir = mkdtempSync(join(tmpdir(), 'boxqc-ls-transport-'));
    try {
      const report = join(dir, 'undici.json');
      const preload = join(dir, 'preload.cjs');
      writeFileSync(
        preload,
        `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)},
  JSON.stringify(Object.keys(require.cache).some((k) => k.includes('node_modules/undici/')))));`,
      );
      const r = await lab!.cli(args, { NODE_OPTIONS: `--require ${preload}`, ...extra });
      expect(r.code, describeResult(r)).toBe(0);
      if (args[0] === 'ls') expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1200);
      return JSON.parse(readFileSync(report, 'utf8')) as boolean;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('lists without loading undici when no proxy is set', async () => {
    lab = await startLab({ rootItems: 1200 });
    await lab.mintAndSeed(['alice@example.com']);
    expect(await undiciLoaded({})).toBe(false);
  });

  it('refreshes (token for an expired user) without loading undici when no proxy is set', async () => {
    lab = await startLab({ rootItems: 1 });
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    expect(await undiciLoaded({}, ['token', '--email', 'alice@example.com'])).toBe(false);
    expect(refreshCount(lab)).toBe(1);
  });

  it('goes through undici (EnvHttpProxyAgent) when HTTP_PROXY is set, honouring NO_PROXY', async () => {
    lab = await startLab({ rootItems: 1200 });
    await lab.mintAndSeed(['alice@example.com']);
    expect(await undiciLoaded({ HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1' })).toBe(true);
  });
});
