/**
 * The file store's audit log (core/history/file-history.ts, issue 18): one JSON line per entry appended with
 * O_APPEND in one write, so concurrent processes never interleave; capped with ONE rotation to `.1`, done by
 * one process only; 0600; a symlink or an unwritable path costs the line and one warning, never a throw.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { historyPathFor, openFileHistory } from '../../../src/core/history/file-history.js';
import { requireBuild } from '../../helpers/store-procs.js';

const WORKER = fileURLToPath(new URL('../../helpers/history-worker.mjs', import.meta.url));
const facts = { host: 'h', pid: 1, os_user: 'u', command: 'refresh' };

async function tempStorePath(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-hist-')), 'box-qc');
  await mkdir(dir, { mode: 0o700 });
  return join(dir, 'box_tokens.json');
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

async function runWorkers(store: string, workers: number, count: number, maxBytes: number): Promise<void> {
  const barrier = `${store}.go`;
  const runs = Array.from({ length: workers }, (_, id) => {
    const child = spawn(process.execPath, [WORKER, store, String(id), String(count), String(maxBytes), barrier], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise<void>((resolve, reject) =>
      child.on('close', (code) =>
        code === 0 && stderr === '' ? resolve() : reject(new Error(`worker ${id}: ${code} ${stderr}`)),
      ),
    );
  });
  await new Promise((r) => setTimeout(r, 300));
  await writeFile(barrier, '');
  await Promise.all(runs);
}

/** Every line is one whole entry, as its worker wrote it (detail `id:i:` padded with that worker's letter). */
function assertWhole(text: string): Array<{ id: number; i: number }> {
  return lines(text).map((l) => {
    const e = JSON.parse(l) as { detail: string; email: string };
    const m = /^(\d+):(\d+):([a-z]*)$/.exec(e.detail);
    expect(m, l.slice(0, 120)).not.toBeNull();
    const id = Number(m![1]);
    const pad = m![3] ?? '';
    expect(new Set(pad)).toEqual(new Set(pad.length ? [String.fromCharCode(97 + (id % 26))] : []));
    expect(e.email).toBe(`w${id}@example.com`);
    return { id, i: Number(m![2]) };
  });
}

describe('file history', () => {
  beforeAll(requireBuild);

  it('is named after the store file, in its folder', () => {
    expect(historyPathFor('/x/box_tokens.json')).toBe('/x/box_tokens.history.jsonl');
    expect(historyPathFor('/x/tokens')).toBe('/x/tokens.history.jsonl');
  });

  it('appends entries with the process facts, 0600, and reads them back oldest first with filters', async () => {
    const store = await tempStorePath();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const log = openFileHistory(store, { facts, now: () => now });
    await log.append({ event: 'connect', email: 'a@x.com', outcome: 'connected', box_request_id: 'r1' });
    now += 86_400_000;
    await log.append({ event: 'refresh', email: 'b@x.com', outcome: 'refreshed' });
    now += 86_400_000;
    await log.append({ event: 'refresh', email: 'a@x.com', outcome: 'dead', detail: 'E_INVALID_GRANT' });
    expect((await stat(historyPathFor(store))).mode & 0o777).toBe(0o600);
    const all = await log.read({});
    expect(all.map((e) => e.outcome)).toEqual(['connected', 'refreshed', 'dead']);
    expect(all[0]).toEqual({
      time: '2026-01-01T00:00:00.000Z',
      event: 'connect',
      email: 'a@x.com',
      outcome: 'connected',
      box_request_id: 'r1',
      ...facts,
    });
    expect((await log.read({ email: 'a@x.com' })).map((e) => e.outcome)).toEqual(['connected', 'dead']);
    expect((await log.read({ sinceMs: Date.parse('2026-01-02T00:00:00Z') })).map((e) => e.outcome)).toEqual([
      'refreshed',
      'dead',
    ]);
    expect((await log.read({ limit: 1 })).map((e) => e.outcome)).toEqual(['dead']);
  });

  it('lines queued while an append runs go out together, whole and in call order, each timed when it was recorded', async () => {
    const store = await tempStorePath();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const log = openFileHistory(store, { facts, now: () => now });
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      pending.push(log.append({ event: 'refresh', email: `u${i}@x.com`, outcome: 'refreshed' }));
      now += 1000;
    }
    await Promise.all(pending);
    const text = await readFile(historyPathFor(store), 'utf8');
    const entries = lines(text).map((l) => JSON.parse(l) as { email: string; time: string });
    expect(entries.map((e) => e.email)).toEqual(Array.from({ length: 300 }, (_, i) => `u${i}@x.com`));
    expect(entries[299]!.time).toBe(new Date(Date.parse('2026-01-01T00:00:00Z') + 299_000).toISOString());
  });

  it('a burst of queued lines still respects the cap: neither file grows past it (review of 0440c4c)', async () => {
    const store = await tempStorePath();
    const log = openFileHistory(store, { facts, maxBytes: 2048 });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        log.append({ event: 'refresh', email: `u${i}@x.com`, outcome: 'refreshed' }),
      ),
    );
    const path = historyPathFor(store);
    expect((await stat(path)).size).toBeLessThanOrEqual(2048);
    expect((await stat(`${path}.1`)).size).toBeLessThanOrEqual(2048);
    const last = lines(await readFile(path, 'utf8')).map((l) => (JSON.parse(l) as { email: string }).email);
    expect(last.at(-1)).toBe('u299@x.com');
  });

  it('rotates at the cap into ONE .1, and reads across both', async () => {
    const store = await tempStorePath();
    const log = openFileHistory(store, { facts, maxBytes: 2048 });
    for (let i = 0; i < 100; i++) await log.append({ event: 'refresh', email: 'a@x.com', outcome: `n${i}` });
    const path = historyPathFor(store);
    const names = (await readdir(join(store, '..'))).filter((n) => n.includes('history'));
    expect(names.sort()).toEqual(['box_tokens.history.jsonl', 'box_tokens.history.jsonl.1']);
    expect((await stat(path)).size).toBeLessThanOrEqual(2048);
    expect((await stat(`${path}.1`)).size).toBeLessThanOrEqual(2048);
    const outcomes = (await log.read({})).map((e) => e.outcome);
    // The newest entries survive, contiguous, the last one last.
    expect(outcomes.at(-1)).toBe('n99');
    const first = Number(outcomes[0]!.slice(1));
    expect(outcomes).toEqual(Array.from({ length: 100 - first }, (_, k) => `n${first + k}`));
  });

  it('concurrent appenders in separate processes never interleave a line', async () => {
    const store = await tempStorePath();
    await runWorkers(store, 6, 150, 64 * 1024 * 1024);
    const seen = assertWhole(await readFile(historyPathFor(store), 'utf8'));
    expect(seen).toHaveLength(6 * 150);
    for (let id = 0; id < 6; id++) {
      expect(seen.filter((s) => s.id === id).map((s) => s.i)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    }
  }, 60_000);

  it('concurrent appenders rotating at a small cap: one .1, whole lines, each file near the cap', async () => {
    const store = await tempStorePath();
    const cap = 32 * 1024;
    await runWorkers(store, 6, 150, cap);
    const path = historyPathFor(store);
    const names = (await readdir(join(store, '..'))).filter((n) => n.includes('history'));
    expect(names.sort()).toEqual(['box_tokens.history.jsonl', 'box_tokens.history.jsonl.1']);
    const [cur, old] = await Promise.all([readFile(path, 'utf8'), readFile(`${path}.1`, 'utf8')]);
    assertWhole(cur);
    assertWhole(old);
    // A line that found the rotation lock busy goes to the old file: a few lines past the cap at most.
    expect(old.length).toBeLessThanOrEqual(cap + 6 * 800);
    expect(cur.length).toBeLessThanOrEqual(cap + 6 * 800);
  }, 60_000);

  it('a symlink planted at the log path is refused: one warning, the target untouched, no throw', async () => {
    const store = await tempStorePath();
    const target = join(store, '..', '..', 'elsewhere.txt');
    await writeFile(target, 'keep\n');
    await symlink(target, historyPathFor(store));
    const warnings: string[] = [];
    const log = openFileHistory(store, { facts, onWarning: (l) => warnings.push(l) });
    await log.append({ event: 'refresh', email: 'a@x.com', outcome: 'refreshed' });
    await log.append({ event: 'refresh', email: 'a@x.com', outcome: 'refreshed' });
    expect(await readFile(target, 'utf8')).toBe('keep\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('history log');
    expect((await lstat(historyPathFor(store))).isSymbolicLink()).toBe(true);
  });

  it('a missing store folder records nothing and says nothing (nothing was ever saved there)', async () => {
    const warnings: string[] = [];
    const log = openFileHistory(join(tmpdir(), 'boxqc-no-such-dir', 'x', 'tokens.json'), {
      facts,
      onWarning: (l) => warnings.push(l),
    });
    await log.append({ event: 'disconnect', email: 'a@x.com', outcome: 'not-connected' });
    expect(warnings).toEqual([]);
    expect(await log.read({})).toEqual([]);
  });

  it('a line cut short by a full disk costs that line only: the next one still parses', async () => {
    const store = await tempStorePath();
    const log = openFileHistory(store, { facts });
    await log.append({ event: 'connect', email: 'a@x.com', outcome: 'connected' });
    await writeFile(historyPathFor(store), '{"time":"2026-01-01T00:00:00.000Z","event":"refr', { flag: 'a' });
    await log.append({ event: 'refresh', email: 'a@x.com', outcome: 'refreshed' });
    expect((await log.read({})).map((e) => e.outcome)).toEqual(['connected', 'refreshed']);
  });
});
