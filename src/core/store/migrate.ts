/**
 * `box-qc store migrate` (issue 9): copies every user from one store to another (file <-> PostgreSQL, or
 * either to either) inside the destination's single update(): one transaction for PostgreSQL, one atomic
 * write for a file. A destination record is never replaced by an older one: newer means a higher
 * generation, then (same generation) a later updated_at. A tie with different content is left alone and
 * reported as a conflict: neither side is provably newer.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseTimestamp } from './format.js';
import type { StoreDocument, StoredUser, TokenStore } from './types.js';

export type MigrateAction = 'copied' | 'unchanged' | 'skipped_newer' | 'skipped_conflict';

export interface MigrateEntry {
  email: string;
  action: MigrateAction;
  /** Generation on each side, for the report. */
  from_generation: number;
  to_generation: number | null;
}

export interface MigrateReport {
  from: string;
  to: string;
  users: MigrateEntry[];
  summary: Record<MigrateAction, number> & { total: number };
}

function generation(u: StoredUser): number {
  return typeof u.generation === 'number' ? u.generation : 0;
}

/** Which side is newer: >0 source, <0 destination, 0 neither. */
function compareAge(src: StoredUser, dst: StoredUser): number {
  const g = generation(src) - generation(dst);
  if (g !== 0) return g;
  return (parseTimestamp(src.updated_at) ?? 0) - (parseTimestamp(dst.updated_at) ?? 0);
}

export function classify(src: StoredUser, dst: StoredUser | undefined): MigrateAction {
  if (dst === undefined) return 'copied';
  if (isDeepStrictEqual(src, dst)) return 'unchanged';
  const age = compareAge(src, dst);
  if (age > 0) return 'copied';
  return age < 0 ? 'skipped_newer' : 'skipped_conflict';
}

/** Applies the source to `doc` (the destination, inside its update) and returns what was done per user. */
export function mergeDocuments(doc: StoreDocument, source: StoreDocument): MigrateEntry[] {
  const entries: MigrateEntry[] = [];
  for (const email of Object.keys(source.users).sort()) {
    const src = source.users[email]!;
    const dst = Object.hasOwn(doc.users, email) ? doc.users[email] : undefined;
    const action = classify(src, dst);
    if (action === 'copied') doc.users[email] = { ...src };
    entries.push({
      email,
      action,
      from_generation: generation(src),
      to_generation: dst === undefined ? null : generation(dst),
    });
  }
  mergeInvites(doc, source);
  // Top-level unknown fields (another writer's) travel too, without replacing the destination's own.
  for (const [key, value] of Object.entries(source)) {
    if (key !== 'version' && key !== 'users' && key !== 'invites' && !Object.hasOwn(doc, key)) doc[key] = value;
  }
  return entries;
}

/**
 * Invites (issue 17) merge per token hash: one the destination lacks is copied; where both have it, a used or
 * revoked one wins over a pending one (a link already spent must not come back to life), else the
 * destination's is kept.
 */
function mergeInvites(doc: StoreDocument, source: StoreDocument): void {
  const from = source.invites;
  if (from === undefined || Object.keys(from).length === 0) return;
  const merged = { ...(doc.invites ?? {}) };
  for (const [hash, rec] of Object.entries(from)) {
    const dst = Object.hasOwn(merged, hash) ? merged[hash] : undefined;
    if (dst === undefined || (dst.state === 'pending' && rec.state !== 'pending')) merged[hash] = { ...rec };
  }
  doc.invites = merged;
}

export async function migrateStore(from: TokenStore, to: TokenStore): Promise<MigrateReport> {
  const source = await from.read();
  const users = await to.update((doc) => mergeDocuments(doc, source));
  const summary = { copied: 0, unchanged: 0, skipped_newer: 0, skipped_conflict: 0, total: users.length };
  for (const u of users) summary[u.action] += 1;
  return { from: from.location, to: to.location, users, summary };
}
