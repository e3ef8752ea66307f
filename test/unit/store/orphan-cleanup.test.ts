/**
 * Issue 15 review finding 7a: the store writer removes temps, probes and reservations left by killed
 * processes, but never one of a LIVE process (ensureWritable's probes are made without the store lock, a
 * reservation's temp lives across the POST), judged by pid + start time; nor one from another host or PID
 * namespace, whose processes cannot be seen from here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { ownerTag } from '../../../src/core/store/file/owner-tag.js';
import { readPidNamespace, readProcStat } from '../../../src/core/store/file/proc-info.js';
import { unexpectedFiles } from '../../helpers/litter.js';
import { makeStore, pair, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
let child: ChildProcess | undefined;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  t.cleanup();
});

async function livePid(): Promise<number> {
  child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  await new Promise((r) => child!.on('spawn', r));
  return child.pid!;
}

async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

async function tagOf(pid: number, start?: string, ns?: string): Promise<string> {
  return ownerTag(hostname(), ns ?? (await readPidNamespace()), pid, start ?? (await readProcStat(pid))?.start ?? 'x');
}

describe('orphan cleanup by the store writer', () => {
  it('keeps the probe, temp and reservation of a live process, removes those of a dead one', async () => {
    const { store } = makeStore(t.dir);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    const live = await tagOf(await livePid());
    const dead = await tagOf(await deadPid());
    const names = (tag: string) => [
      `.tokens.json.${tag}-00aa.probe`,
      `.tokens.json.${tag}-00bb.tmp`,
      `.tokens.json.rsv-${tag}-00cc.reserve`,
    ];
    for (const n of [...names(live), ...names(dead)]) writeFileSync(join(t.dir, n), '');
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now()));
    expect(unexpectedFiles(t.dir).sort()).toEqual(names(live).sort());
  });

  it('keeps what a process in another PID namespace made (its pid means nothing here)', async () => {
    const { store, path } = makeStore(t.dir);
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    const foreign = await tagOf(await deadPid(), '1', 'pid:[4026532999]');
    const kept = [
      `.tokens.json.${foreign}-00aa.probe`,
      `.tokens.json.${foreign}-00bb.tmp`,
      `.tokens.json.rsv-${foreign}-00cc.reserve`,
    ];
    for (const n of kept) writeFileSync(join(t.dir, n), '');
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(2), undefined, Date.now()));
    expect(unexpectedFiles(t.dir).sort()).toEqual(kept.sort());
    expect(path).toBe(join(t.dir, 'tokens.json'));
  });

  it('names its own probes and temps after this process, so others can judge them', async () => {
    const created: string[] = [];
    const { store } = makeStore(t.dir, {
      fs: {
        open: async (p, flags, mode) => (
          created.push(p),
          (await import('../../../src/core/store/file/fs-layer.js')).threadPoolStoreFs.open(p, flags, mode)
        ),
      },
    });
    await store.ensureWritable();
    await store.update((d) => saveUserTokens(d, 'a@x.com', pair(1), undefined, Date.now()));
    const own = await tagOf(process.pid);
    const temps = created.map((p) => p.replace(/.*\//, '')).filter((n) => n.endsWith('.probe') || n.endsWith('.tmp'));
    expect(temps.length).toBeGreaterThanOrEqual(2);
    for (const n of temps) expect(n.startsWith(`.tokens.json.${own}-`)).toBe(true);
  });
});
