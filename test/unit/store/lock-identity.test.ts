/**
 * Issue 15 review findings 6 and 7b: who may steal a file lock.
 * 6: a holder in another PID namespace (a container sharing hostname and boot id, `--network host`) cannot be
 *    judged from here (its pid names another process here): never stolen, waited for as a lock on another host.
 * 7b: a lock file whose content is not readable yet (created, not yet written) is stale only after WE have seen
 *    it unreadable for 5 s of monotonic time; its mtime (wall clock, which can step) does not decide.
 */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreBusyError } from '../../../src/errors.js';
import { storeLockPath, userLockPath } from '../../../src/core/store/index.js';
import { readBootId, readPidNamespace, readProcStat } from '../../../src/core/store/file/proc-info.js';
import { makeStore, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

async function plantLock(path: string, owner: Record<string, unknown>) {
  const content = { pid: 1, host: hostname(), bootId: await readBootId(), nonce: 'someone-else', ...owner };
  writeFileSync(path, JSON.stringify(content), { mode: 0o600 });
}

describe('lock holder in another PID namespace', () => {
  it("records this process's PID namespace in the lock file", async () => {
    const { store, path } = makeStore(t.dir);
    const content = await store.withUserLock('a@x.com', async () =>
      JSON.parse(readFileSync(userLockPath(path, 'a@x.com'), 'utf8')),
    );
    expect(await readPidNamespace()).toMatch(/^pid:\[\d+\]$/);
    expect(content.pidNs).toBe(await readPidNamespace());
  });

  it('never steals it, even when that pid here is another process (pid 1, another start time): waits, then busy', async () => {
    const { store, path } = makeStore(t.dir, { lockWaitMs: 300 });
    const lock = storeLockPath(path);
    // pid 1 is alive here with another start time: as a lock of this namespace it would be "reused", stale.
    await plantLock(lock, { procStart: '1', pidNs: 'pid:[4026532999]' });
    const waits: unknown[] = [];
    const err = await store.update(() => 1, { onWait: (h) => waits.push(h) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreBusyError);
    expect((err as Error).message).toMatch(/held by pid 1 in another PID namespace/);
    expect(waits).toHaveLength(1);
    expect(JSON.parse(readFileSync(lock, 'utf8')).nonce).toBe('someone-else');
  });

  it('an old lock file without the field is judged as before (written by an older box-qc on this host)', async () => {
    const { store, path } = makeStore(t.dir, { lockWaitMs: 5_000 });
    await plantLock(storeLockPath(path), { procStart: '1' });
    expect((await readProcStat(1))?.start).not.toBe('1');
    expect(await store.update(() => 'ok')).toBe('ok');
  });
});

describe('a lock file not readable yet', () => {
  it('is not stolen while we have seen it unreadable for under 5 s, however old its mtime', async () => {
    const { store, path } = makeStore(t.dir, { lockWaitMs: 1_000 });
    const lock = userLockPath(path, 'a@x.com');
    writeFileSync(lock, '');
    // A wall-clock step (or a create whose write is still coming) makes the mtime look a minute old.
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await expect(store.withUserLock('a@x.com', async () => 1)).rejects.toThrow(
      /store busy \(held by an unknown process\)/,
    );
    expect(readFileSync(lock, 'utf8')).toBe('');
  });

  it('is stolen once we have seen it unchanged and unreadable for 5 s of monotonic time', async () => {
    let clock = 0;
    const { store, path } = makeStore(t.dir, { lockWaitMs: 2_000, monotonicNow: () => (clock += 1_000) });
    writeFileSync(userLockPath(path, 'a@x.com'), '');
    expect(await store.withUserLock('a@x.com', async () => 2)).toBe(2);
  });
});
