/**
 * `refresh --metrics-file` end to end (issue 18 "Metrics"): the Prometheus text file for node_exporter's
 * textfile collector, written atomically (temp in the same folder, fsync, rename), 0644, never a token;
 * promtool accepts it; box_qc_refresh_total keeps a running total across runs; a reader polling the file
 * while many runs rewrite it never sees a partial file; a missing folder is exit 2 before anything is sent.
 */
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { promtoolCheck, promtoolMissing } from '../helpers/promtool.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricsDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'boxqc-textfile-'));
}

describe('refresh --metrics-file', () => {
  it('writes the metrics: states, per-user ages and expiries, this run counted, 0644, no token', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: 'alice@example.com' });
    const b = lab.emu.mint({ login: 'bob@example.com' });
    const c = lab.emu.mint({ login: 'carol@example.com' });
    await lab.seed({
      'alice@example.com': { ...a, expiresInMs: 50 * 60_000 },
      'bob@example.com': { ...b, expiresInMs: -60_000 },
      'carol@example.com': { ...c, refresh_token: 'not-a-live-refresh-token', expiresInMs: -60_000 },
    });
    const dir = await metricsDir();
    const file = join(dir, 'box_qc.prom');
    const r = await lab.cli(['refresh', '--all', '--metrics-file', file]);
    expect(r.code, describeResult(r)).toBe(4);
    const text = await readFile(file, 'utf8');
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(sample(text, 'box_qc_connections', '{state="healthy"}')).toBe(2);
    expect(sample(text, 'box_qc_connections', '{state="dead"}')).toBe(1);
    expect(sample(text, 'box_qc_connections', '{state="degraded"}')).toBe(0);
    expect(sample(text, 'box_qc_connections', '{state="expiring"}')).toBe(0);
    expect(sample(text, 'box_qc_refresh_total', '{result="refreshed"}')).toBe(1);
    expect(sample(text, 'box_qc_refresh_total', '{result="skipped"}')).toBe(1);
    expect(sample(text, 'box_qc_refresh_total', '{result="dead"}')).toBe(1);
    expect(sample(text, 'box_qc_refresh_total', '{result="temporary"}')).toBe(0);
    expect(sample(text, 'box_qc_refresh_token_age_seconds', '{email="bob@example.com"}')).toBeLessThan(60);
    expect(sample(text, 'box_qc_access_token_expiry_timestamp_seconds', '{email="alice@example.com"}')).toBeGreaterThan(
      0,
    );
    expect(sample(text, 'box_qc_last_run_timestamp_seconds')).toBeGreaterThan(0);
    const store = await lab.readStore();
    for (const u of Object.values(store.users)) {
      expect(text).not.toContain(u.access_token);
      expect(text).not.toContain(u.refresh_token);
    }
    for (const t of [a, b, c]) for (const s of [t.access_token, t.refresh_token]) expect(text).not.toContain(s);
    expect(await readdir(dir)).toEqual(['box_qc.prom']);

    // The next run adds its counts: a counter, as its _total name says.
    const again = await lab.cli(['refresh', '--all', '--metrics-file', file]);
    expect(again.code, describeResult(again)).toBe(4);
    const next = await readFile(file, 'utf8');
    expect(sample(next, 'box_qc_refresh_total', '{result="skipped"}')).toBe(3);
    expect(sample(next, 'box_qc_refresh_total', '{result="dead"}')).toBe(2);
  });

  it.skipIf(promtoolMissing())('the file passes promtool check metrics', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com', 'bob@example.com'], { expired: true });
    const file = join(await metricsDir(), 'box_qc.prom');
    const r = await lab.cli(['refresh', '--all', '--metrics-file', file]);
    expect(r.code, describeResult(r)).toBe(0);
    const text = await readFile(file, 'utf8');
    const check = promtoolCheck(text);
    expect(check.status, `${check.output}\n${text}`).toBe(0);
    expect(check.output).toBe('');
  });

  it('a reader polling the file while many runs rewrite it never sees a partial file', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    const dir = await metricsDir();
    const file = join(dir, 'box_qc.prom');
    let reads = 0;
    let polling = true;
    const bad: string[] = [];
    const poller = (async () => {
      while (polling) {
        const text = await readFile(file, 'utf8').catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        });
        if (text === undefined) continue;
        reads += 1;
        if (!text.startsWith('# HELP box_qc_connections') || !/\nbox_qc_last_run_timestamp_seconds \S+\n$/.test(text))
          bad.push(text);
      }
    })();
    for (let wave = 0; wave < 4; wave++) {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => lab!.cli(['refresh', '--all', '--force', '--metrics-file', file])),
      );
      for (const r of runs) expect(r.code, describeResult(r)).toBe(0);
    }
    polling = false;
    await poller;
    expect(bad.slice(0, 1)).toEqual([]);
    expect(reads).toBeGreaterThan(50);
    expect(await readdir(dir)).toEqual(['box_qc.prom']);
  }, 120_000);

  it('a metrics folder that does not exist is exit 2 before any refresh is sent', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const file = join(await metricsDir(), 'missing', 'box_qc.prom');
    const r = await lab.cli(['refresh', '--all', '--metrics-file', file]);
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--metrics-file');
    expect(refreshCount(lab)).toBe(0);
  });
});
