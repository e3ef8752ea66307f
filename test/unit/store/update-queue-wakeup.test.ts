/**
 * Group commit's queue (group-commit.ts UpdateQueue): a caller settled by the last commit of a drain may
 * enqueue again before that drain has ended (its loop already left, `draining` still set). That update must
 * still be committed. Before the fix it waited forever: 32 reservations, their markers in one batch, then
 * the first save never came back (found by test/integration/store/reserve-pool.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { UpdateQueue } from '../../../src/core/store/group-commit.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms)),
  ]);

describe('UpdateQueue', () => {
  it('an update enqueued by a caller the last commit just settled is committed, whatever the microtask timing', async () => {
    const commits: number[] = [];
    const q = new UpdateQueue(async (batch) => {
      commits.push(batch.length);
      await Promise.resolve();
      batch.forEach((b) => b.resolve(b.mutate({ version: 1, users: {} })));
    });
    for (let depth = 0; depth < 12; depth++) {
      // The next update is enqueued `depth` microtasks after the previous one settled: one of these depths
      // falls between the drain's last loop check and its end.
      const next = new Promise<unknown>((resolve) => {
        void q
          .enqueue(() => depth, undefined)
          .then(async () => {
            for (let i = 0; i < depth; i++) await Promise.resolve();
            resolve(q.enqueue(() => 'next', undefined));
          });
      });
      await expect(within(next, 1_000)).resolves.toBe('next');
    }
    expect(commits.length).toBeGreaterThan(0);
  });
});
