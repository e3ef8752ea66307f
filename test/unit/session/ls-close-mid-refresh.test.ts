/**
 * `ls` in process (run(argv, deps)): the reader goes away (`| head`) right after the first page, while the
 * page fetched ahead got a 401 and its refresh POST is held by Box. The command's close() must wait for that
 * refresh to be saved before closing the pool and the store (REVIEW-1 finding 5): when run() returns, the
 * store holds the new pair.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli.js';
import type { OutStream } from '../../../src/io/output.js';
import { refreshCount, startLab, type Lab } from '../../e2e/refresh-fixtures.js';
import { fakeDeps } from '../../helpers/fake-deps.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pipe whose reader leaves while the first chunk is still pending: then every write fails with EPIPE. */
function leavingReader(leaveWhen: () => boolean): OutStream {
  let gone: string | undefined;
  const listeners = new Set<() => void>();
  return {
    isTTY: false,
    get writeError() {
      return gone;
    },
    write() {
      if (gone !== undefined) return true;
      void (async () => {
        while (!leaveWhen()) await sleep(5);
        gone = 'EPIPE';
        for (const l of [...listeners]) l();
      })();
      return false;
    },
    once(_event, listener) {
      listeners.add(listener);
    },
    removeListener(_event, listener) {
      listeners.delete(listener);
    },
  };
}

describe('ls: the reader leaves while the prefetched page refreshes', () => {
  it('the refresh started by the prefetch 401 is saved before run() returns', async () => {
    const l = (lab = await startLab({ rootItems: 2345 }));
    const email = 'alice@example.com';
    await l.mintAndSeed([email]);
    const before = (await l.readStore()).users[email]!.refresh_token;
    l.emu.faults.add({ route: '/2.0/folders/*/items', action: 'status', status: 401, skip: 1, times: 1 });
    l.emu.faults.add({ route: '/oauth2/token', action: 'stall-after-commit', ms: 500 });
    const { deps } = fakeDeps({ env: l.env(), homeDir: '/nonexistent-home' });
    deps.stdout = leavingReader(() => refreshCount(l) > 0);
    const code = await run(['ls'], deps);
    // No settling: run() has returned, so the rotation must already be durable.
    const user = (await l.readStore()).users[email]!;
    expect(code).toBe(0);
    expect(refreshCount(l)).toBe(1);
    expect(user.refresh_token).not.toBe(before);
    expect(l.emu.isLive(user.refresh_token)).toBe(true);
    expect(user.refresh_in_flight).toBeUndefined();
  });
});
