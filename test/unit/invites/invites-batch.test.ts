/**
 * Issue 17 bench: invite changes in one group commit copy the invites map once, not once per change (a serve
 * finishing 200 callbacks made 400 copies of a map of ~800 invites), and never change a map they were given:
 * the document before the batch, which readers share, stays as it was, and so does the batch's result once
 * update() returned. Each change is still checked on its own.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findUsableByPrefix, markInviteUsed, spendStateNonce } from '../../../src/core/invites/invites.js';
import type { InviteRecord } from '../../../src/core/invites/types.js';
import { deepFreeze } from '../../../src/core/store/document-copy.js';
import { applyBatch, type PendingUpdate } from '../../../src/core/store/group-commit.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import type { StoreDocument } from '../../../src/core/store/types.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const hash = (n: number) => createHash('sha256').update(String(n)).digest('hex');
const pending = (n: number): InviteRecord => ({
  email: `u${n}@example.com`,
  created_at: formatTimestamp(NOW - 1000),
  expires_at: formatTimestamp(NOW + 3_600_000),
  state: 'pending',
});

function base(n: number): StoreDocument {
  const invites: Record<string, InviteRecord> = {};
  for (let i = 1; i <= n; i++) invites[hash(i)] = pending(i);
  return deepFreeze({ version: 1, users: {}, invites });
}

const item = (mutate: (d: StoreDocument) => unknown): PendingUpdate => ({
  mutate,
  resolve: () => {},
  reject: () => {},
  options: undefined,
});

describe('invite changes in one batch', () => {
  it('copy the map once and leave the document they were given as it was', () => {
    const before = base(50);
    const seen: unknown[] = [];
    const change = (n: number) =>
      item((d) => {
        expect(spendStateNonce(d, hash(n), `nonce-${n}`, NOW)).toBe(true);
        markInviteUsed(d, hash(n), NOW);
        seen.push(d.invites);
      });
    const { doc, outcomes } = applyBatch(before, [change(1), change(2), change(3)], { location: 'x', jsonb: false });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // One map, made by the first change and edited in place by the next ones.
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).not.toBe(before.invites);
    for (const n of [1, 2, 3]) {
      expect(doc.invites![hash(n)]).toMatchObject({ state: 'used', spent_states: [`nonce-${n}`] });
      expect(before.invites![hash(n)]).toEqual(pending(n));
    }
    expect(doc.invites![hash(4)]).toBe(before.invites![hash(4)]);
    expect(Object.keys(doc.invites!)).toEqual(Object.keys(before.invites!));
  });

  it('cannot change the result through a document kept past its update', () => {
    let kept: StoreDocument | undefined;
    const { doc } = applyBatch(
      base(3),
      [
        item((d) => {
          kept = d;
          return spendStateNonce(d, hash(1), 'n1', NOW);
        }),
      ],
      { location: 'x', jsonb: false, freezeOnRead: true },
    );
    const result = doc.invites![hash(2)];
    expect(Object.isFrozen(doc.invites)).toBe(true);
    // A late change lands on a copy of its own, never on the stored map.
    markInviteUsed(kept!, hash(2), NOW);
    expect(doc.invites![hash(2)]).toBe(result);
    expect(doc.invites![hash(2)]!.state).toBe('pending');
  });

  it('finds an invite by the hash prefix a state carries', () => {
    const d = base(20);
    expect(findUsableByPrefix(d, hash(17).slice(0, 32), NOW)).toEqual({ hash: hash(17), record: pending(17) });
    expect(findUsableByPrefix(d, hash(17).slice(0, 32), NOW + 7_200_000)).toBeUndefined();
    expect(findUsableByPrefix(d, 'f'.repeat(32), NOW)).toBeUndefined();
  });

  // Review 11a: a change that edits the batch's copy in place is still checked on its own (issue 15 review
  // finding 2: an unstorable value fails its item alone). On PostgreSQL (jsonb) a NUL cannot be stored.
  it('check each change for what the backend cannot store, the second one in a batch too', () => {
    const batch = (...mutations: ((d: StoreDocument) => unknown)[]) =>
      applyBatch(base(2), mutations.map(item), { location: 'pg', jsonb: true });
    expect(batch((d) => spendStateNonce(d, hash(2), 'bad\u0000nonce', NOW)).outcomes[0]!.ok).toBe(false);
    const { outcomes, doc } = batch(
      (d) => spendStateNonce(d, hash(1), 'good-nonce', NOW),
      (d) => spendStateNonce(d, hash(2), 'bad\u0000nonce', NOW),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
    expect(JSON.stringify(doc.invites)).not.toContain('\\u0000');
    expect(doc.invites![hash(1)]!.spent_states).toEqual(['good-nonce']);
  });
});
