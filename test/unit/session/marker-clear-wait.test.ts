/**
 * Review 2 of the ninth session, finding F3: when a re-stamp of the in-flight marker fails, writeMarker clears
 * the marker it wrote before. That clear runs inside the critical section (the user lock held), so it must not
 * wait the store's whole lock wait (45 s by default) for a busy store: its wait is bounded like a marker write.
 */
import { expect, it } from 'vitest';
import { MAX_MARKER_WRITE_MS, writeMarker } from '../../../src/core/session-post-guard.js';
import type { Session } from '../../../src/core/session-types.js';
import type { UpdateOptions } from '../../../src/core/store/types.js';

it('the clear after a failed re-stamp waits for the store lock no longer than a marker write may take', async () => {
  const calls: Array<UpdateOptions | undefined> = [];
  const store = {
    update: async (_fn: unknown, options?: UpdateOptions) => {
      calls.push(options);
      // The first marker write is slow (maxMarkerWriteMs -1), the re-stamp fails, the clear succeeds.
      if (calls.length === 2) throw new Error('re-stamp failed');
    },
  };
  const session = { store, now: () => new Date(), interrupts: {}, maxMarkerWriteMs: -1 } as unknown as Session;
  await expect(writeMarker(session, 'a@x.com', { pid: 1, host: 'h' })).rejects.toThrow('re-stamp failed');
  expect(calls).toHaveLength(3);
  expect(calls[2]?.waitMs).toBeDefined();
  expect(calls[2]!.waitMs!).toBeLessThanOrEqual(MAX_MARKER_WRITE_MS);
});
