/**
 * Real processes against one store (issue 3 "Done when"; reliability.md T1b, T4): no lost update, mutual
 * exclusion, recovery after kill -9, bounded wait with exit 75. Requires a build (dist/).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nestingErrors, requireBuild, startWorker, type WorkerRun } from '../../helpers/store-procs.js';

let dir: string;
beforeAll(requireBuild);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-procs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Waits until the log has at least `minLines` lines and ends inside a lock; returns that holder's pid. */
async function currentHolder(log: string, minLines: number): Promise<string> {
  for (;;) {
    const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    const last = lines[lines.length - 1] ?? '';
    if (lines.length >= minLines && last.startsWith('<')) return last.slice(1);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function allOk(runs: WorkerRun[]) {
  const results = await Promise.all(runs.map((r) => r.done));
  for (const r of results) expect(r.code, JSON.stringify(r)).toBe(0);
  return results;
}

describe('store across processes', () => {
  it('loses no update: 20 processes save 20 different users at the same moment, 5 rounds', async () => {
    const store = join(dir, 'tokens.json');
    for (let round = 1; round <= 5; round++) {
      const barrier = join(dir, `go-${round}`);
      const runs = Array.from({ length: 20 }, (_, i) =>
        startWorker({ op: 'save', store, email: `user${i}@example.com`, barrier }),
      );
      await Promise.all(runs.map((r) => r.printed('READY')));
      writeFileSync(barrier, '');
      await allOk(runs);
      const users = JSON.parse(readFileSync(store, 'utf8')).users as Record<
        string,
        { generation: number; access_token: string }
      >;
      expect(Object.keys(users)).toHaveLength(20);
      for (let i = 0; i < 20; i++)
        expect(users[`user${i}@example.com`]?.generation, `round ${round} user${i}`).toBe(round);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('excludes mutually: 10 processes x 10 rounds inside one user lock give a perfectly nested log', async () => {
    const store = join(dir, 'tokens.json');
    const log = join(dir, 'log');
    const barrier = join(dir, 'go');
    const runs = Array.from({ length: 10 }, () =>
      startWorker({ op: 'nest', store, email: 'a@example.com', log, rounds: 10, barrier }),
    );
    await Promise.all(runs.map((r) => r.printed('READY')));
    writeFileSync(barrier, '');
    await allOk(runs);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(200);
    expect(nestingErrors(lines)).toEqual([]);
    expect(new Set(lines.map((l) => l.slice(1))).size).toBe(10);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('recovers the lock of a holder killed with SIGKILL, with no two holders overlapping', async () => {
    const store = join(dir, 'tokens.json');
    const log = join(dir, 'log');
    const holder = startWorker({ op: 'hold', store, email: 'a@example.com', log });
    await holder.printed('HELD');
    const barrier = join(dir, 'go');
    const runs = Array.from({ length: 4 }, () =>
      startWorker({ op: 'nest', store, email: 'a@example.com', log, rounds: 3, barrier }),
    );
    await Promise.all(runs.map((r) => r.printed('READY')));
    writeFileSync(barrier, '');
    holder.child.kill('SIGKILL');
    expect((await holder.done).signal).toBe('SIGKILL');
    await allOk(runs);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(`<${holder.child.pid}`);
    expect(nestingErrors(lines.slice(1))).toEqual([]);
    expect(lines).toHaveLength(1 + 4 * 3 * 2);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('keeps exclusion when holders are killed with SIGKILL inside the lock while others contend', async () => {
    const store = join(dir, 'tokens.json');
    const log = join(dir, 'log');
    const barrier = join(dir, 'go');
    const runs = Array.from({ length: 8 }, () =>
      startWorker({ op: 'nest', store, email: 'a@example.com', log, rounds: 4, barrier }),
    );
    await Promise.all(runs.map((r) => r.printed('READY')));
    writeFileSync(barrier, '');
    const killed = new Set<string>();
    for (const after of [3, 9]) {
      const holder = await currentHolder(log, after);
      killed.add(holder);
      runs.find((r) => String(r.child.pid) === holder)!.child.kill('SIGKILL');
    }
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) if (r.signal !== 'SIGKILL') expect(r.code, JSON.stringify(r)).toBe(0);
    // Every open is followed by its own close, except a killed holder's, which is followed by the next open.
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const pairs = lines.filter(
      (l, i) => !(l.startsWith('<') && killed.has(l.slice(1)) && lines[i + 1] !== `>${l.slice(1)}`),
    );
    expect(nestingErrors(pairs)).toEqual([]);
    expect(lines.length - pairs.length).toBe(2);
    for (const r of runs) {
      const pid = String(r.child.pid);
      if (!killed.has(pid))
        expect(
          lines.filter((l) => l === `<${pid}`),
          `survivor ${pid}`,
        ).toHaveLength(4);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a process that cannot get the lock in time exits 75 naming the holder pid, without running', async () => {
    const store = join(dir, 'tokens.json');
    const log = join(dir, 'log');
    const holder = startWorker({ op: 'hold', store, email: 'a@example.com', log });
    await holder.printed('HELD');
    try {
      const r = await startWorker({ op: 'nest', store, email: 'a@example.com', log, lockWaitMs: 300 }).done;
      expect(r.code, JSON.stringify(r)).toBe(75);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'E_STORE_BUSY' });
      expect(r.stdout).toContain(`store busy (held by pid ${holder.child.pid})`);
      expect(readFileSync(log, 'utf8')).toBe(`<${holder.child.pid}\n`);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.done;
    }
  });
});
