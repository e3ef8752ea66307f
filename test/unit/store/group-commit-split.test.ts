/**
 * Issue 15 review finding 2, the commit level: when the write of a whole batch fails (a value the database
 * refuses that no check foresaw), the queue commits its items one at a time before rejecting any, so the
 * good ones are saved. Failures every item would share (busy lock, temporary outage) are not retried per item.
 */
import { describe, expect, it } from 'vitest';
import { OperationError, StoreBusyError } from '../../../src/errors.js';
import { UpdateQueue, applyBatch, type PendingUpdate } from '../../../src/core/store/group-commit.js';
import type { StoreDocument } from '../../../src/core/store/types.js';

function queueWith(fail: (batch: PendingUpdate[]) => Error | undefined) {
  const commits: number[] = [];
  const q = new UpdateQueue(async (batch) => {
    commits.push(batch.length);
    await new Promise((r) => setTimeout(r, 5));
    const err = fail(batch);
    if (err) throw err;
    const { outcomes } = applyBatch({ version: 1, users: {} }, batch);
    batch.forEach((b, i) =>
      outcomes[i]!.ok
        ? b.resolve((outcomes[i] as { value: unknown }).value)
        : b.reject((outcomes[i] as { error: unknown }).error),
    );
  });
  return { q, commits };
}

const poison = (doc: StoreDocument) => (((doc as Record<string, unknown>).poison = true), 'bad');
const good = (n: number) => (_doc: StoreDocument) => n;

describe('group commit: a batch whose write fails', () => {
  it('commits the items one at a time before rejecting any: only the one that fails alone is rejected', async () => {
    const dbError = () => new OperationError('E_STORE_DB', 'database error 22P05: unsupported Unicode escape sequence');
    const { q, commits } = queueWith((batch) => (batch.some((b) => b.mutate === poison) ? dbError() : undefined));
    const first = q.enqueue(good(0), undefined);
    const results = await Promise.allSettled([
      first,
      q.enqueue(good(1), undefined),
      q.enqueue(poison, undefined),
      q.enqueue(good(3), undefined),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_STORE_DB' });
    expect(commits).toEqual([1, 3, 1, 1, 1]);
  });

  it('rejects the whole batch at once when every item would fail the same way (busy lock: no 45 s wait per item)', async () => {
    const { q, commits } = queueWith(() => new StoreBusyError('store busy (held by pid 1)'));
    const first = q.enqueue(good(0), undefined);
    const results = await Promise.allSettled([first, q.enqueue(good(1), undefined), q.enqueue(good(2), undefined)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(commits).toEqual([1, 2]);
  });
});
