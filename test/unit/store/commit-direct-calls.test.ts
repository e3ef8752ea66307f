/**
 * Issue 17 bench: a file store in `thread-pool` mode (what `serve` opens) makes the calls its callers wait
 * through one after another directly: the store lock, the re-read under it, the write, the release, the
 * per-user lock files, the folder's check before each of them and the writable check. Only the fsyncs wait for
 * the pool. Each pool hop is a turn of the event loop, which a busy server adds to every caller's wait
 * (file-store.ts directFs). A commit also lists the store folder once, not once for its temps and again for its
 * reservations.
 */
import { createHook } from 'node:async_hooks';
import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import type { StoreFs } from '../../../src/core/store/file/fs-layer.js';
import { makeStore, pair, tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

/** How many node:fs calls `fn` sent through libuv's thread pool (each an FSREQCALLBACK async resource). */
async function poolCallsOf(fn: () => Promise<unknown>): Promise<number> {
  let calls = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'FSREQCALLBACK') calls++;
    },
  }).enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return calls;
}

describe('file store commits in thread-pool mode', () => {
  it('send only their fsyncs through the thread pool', async () => {
    const { store } = makeStore(t.dir, { fileCalls: 'thread-pool' });
    // The first save creates the folder and the file, and warms what is checked once per store object.
    await store.update((d) => saveUserTokens(d, 'a@example.com', pair(1), undefined, Date.now()));
    await store.ensureWritable();
    const commit = await poolCallsOf(() =>
      store.update((d) => saveUserTokens(d, 'a@example.com', pair(2), undefined, Date.now())),
    );
    // The temp's fsync and the folder's; everything else is direct. Through the pool, the same commit made 25
    // calls or more (lock create/chmod/write/close, the read, the temp's open/write/close, the rename, the
    // lock's read and unlink, two folder listings), each a turn of the event loop.
    expect(commit).toBeLessThanOrEqual(2);
    const userLock = await poolCallsOf(() => store.withUserLock('a@example.com', async () => {}));
    // None: the folder's stat (shared with concurrent callers), and the lock file created, read back and
    // removed, all directly.
    expect(userLock).toBe(0);
    // The check before a code exchange (serve) or a refresh: the folder, the file, the free space, a probe.
    const writable = await poolCallsOf(() => store.ensureWritable());
    expect(writable).toBe(0);
    await store.close();
  });

  it('list the store folder once per commit', async () => {
    let listings = 0;
    const counting: Partial<StoreFs> = {
      readdir: (path) => {
        listings++;
        return Promise.resolve(readdirSync(path));
      },
    };
    const { store } = makeStore(t.dir, { fileCalls: 'thread-pool', fs: counting });
    await store.update((d) => saveUserTokens(d, 'a@example.com', pair(1), undefined, Date.now()));
    listings = 0;
    await store.update((d) => saveUserTokens(d, 'a@example.com', pair(2), undefined, Date.now()));
    expect(listings).toBe(1);
    await store.close();
  });
});
