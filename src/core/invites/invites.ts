/**
 * Invite records (issue 17): create, list, revoke, look up. Every change is one store update(), under the
 * same store lock and atomic write (file) or transaction (PostgreSQL) as token saves. A mutation never edits
 * the map it was given: update() shares the previous document's frozen objects (group commit). It edits a copy
 * put in its place, made once per update (writableInvites), so that a commit of 200 callbacks copies the map
 * once rather than 400 times (issue 17 bench: the copies were 15% of serve's CPU with ~800 invites kept).
 */
import { recordHistory } from '../history/record.js';
import { formatTimestamp, normalizeStoreEmail, parseTimestamp } from '../store/format.js';
import type { StoreDocument, TokenStore } from '../store/types.js';
import { newInviteToken } from './invite-token.js';
import type { InviteMap, InviteRecord } from './types.js';

/**
 * Records are kept this long after they expired (an audit trail), then dropped, whatever their state: a link
 * never opened is as dead as a used one once expired, and a store must not grow with every invite ever made.
 */
const KEEP_FINISHED_MS = 30 * 86_400_000;

export interface CreatedInvite {
  /** Shown once, in the link; never stored. */
  token: string;
  hash: string;
  record: InviteRecord;
}

export interface PendingInvite {
  email: string;
  created_at: string;
  expires_at: string;
}

function invitesOf(doc: StoreDocument): InviteMap {
  return doc.invites ?? {};
}

/** The maps writableInvites made: only these are ever changed in place. */
const madeHere = new WeakSet<InviteMap>();

/**
 * `doc.invites`, to change in place: the map itself when writableInvites made it and nothing froze it since
 * (update() freezes what it stores and shares, group-commit.ts), else a copy put in its place.
 */
function writableInvites(doc: StoreDocument): InviteMap {
  const invites = invitesOf(doc);
  if (madeHere.has(invites) && !Object.isFrozen(invites)) return invites;
  const copy = { ...invites };
  madeHere.add(copy);
  doc.invites = copy;
  return copy;
}

/** Pending and unexpired: the only invite that may start or finish a flow. */
export function isUsable(record: InviteRecord | undefined, now: number): record is InviteRecord {
  if (record?.state !== 'pending') return false;
  const expires = parseTimestamp(record.expires_at);
  return expires !== undefined && now < expires;
}

export function usableInvite(doc: StoreDocument, hash: string, now: number): InviteRecord | undefined {
  const invites = invitesOf(doc);
  const record = Object.hasOwn(invites, hash) ? invites[hash] : undefined;
  return isUsable(record, now) ? record : undefined;
}

/** The pending invites of `email` revoked, those long expired dropped; a new map. */
function revokedFor(invites: InviteMap, email: string | undefined, now: number): { next: InviteMap; count: number } {
  const at = formatTimestamp(now);
  const next: InviteMap = {};
  let count = 0;
  for (const [hash, rec] of Object.entries(invites)) {
    const expires = parseTimestamp(rec.expires_at) ?? 0;
    if (expires + KEEP_FINISHED_MS < now) continue;
    if (email !== undefined && rec.email === email && rec.state === 'pending') {
      next[hash] = { ...rec, state: 'revoked', revoked_at: at };
      count++;
    } else next[hash] = rec;
  }
  return { next, count };
}

/** One update: the email's earlier pending invites revoked, the new one added. */
export async function createInvite(
  store: TokenStore,
  input: { email: string; expiresInMs: number; now: number },
): Promise<CreatedInvite & { revoked: number }> {
  const email = normalizeStoreEmail(input.email);
  const { token, hash } = newInviteToken();
  const record: InviteRecord = {
    email,
    created_at: formatTimestamp(input.now),
    expires_at: formatTimestamp(input.now + input.expiresInMs),
    state: 'pending',
  };
  const revoked = await store.update((doc) => {
    const { next, count } = revokedFor(invitesOf(doc), email, input.now);
    doc.invites = { ...next, [hash]: record };
    return count;
  });
  // The audit log (issue 18): never the token or its hash, only who and until when.
  await recordHistory(store, {
    event: 'invite.created',
    email,
    outcome: 'created',
    detail: `expires ${record.expires_at}${revoked > 0 ? `; ${revoked} earlier pending revoked` : ''}`,
  });
  return { token, hash, record, revoked };
}

/** Revokes every pending invite of `email`; returns how many there were. */
export async function revokeInvites(store: TokenStore, email: string, now: number): Promise<number> {
  const key = normalizeStoreEmail(email);
  return store.update((doc) => {
    const { next, count } = revokedFor(invitesOf(doc), key, now);
    if (count > 0) doc.invites = next;
    return count;
  });
}

/** Pending, unexpired invites, by email then creation; no hash, no token. */
export function listPendingInvites(doc: StoreDocument, now: number): PendingInvite[] {
  return Object.values(invitesOf(doc))
    .filter((r) => isUsable(r, now))
    .map((r) => ({ email: r.email, created_at: r.created_at, expires_at: r.expires_at }))
    .sort((a, b) => (a.email === b.email ? cmp(a.created_at, b.created_at) : cmp(a.email, b.email)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The usable invite a state's hash prefix points to (invite-state.ts keeps 128 bits of the hash). */
export function findUsableByPrefix(
  doc: StoreDocument,
  prefix: string,
  now: number,
): { hash: string; record: InviteRecord } | undefined {
  const invites = invitesOf(doc);
  // Keys only: Object.entries would allocate a pair per invite on every callback.
  for (const hash of Object.keys(invites)) {
    const record = invites[hash]!;
    if (hash.startsWith(prefix) && isUsable(record, now)) return { hash, record };
  }
  return undefined;
}

/** How many spent state nonces an invite keeps (one per callback; a link is opened a handful of times). */
export const SPENT_STATES_KEPT = 20;

/**
 * Inside update(): spends a signed state's nonce for its invite (one callback per state: review of issue 17,
 * finding 4). False when the invite is no longer usable or the nonce was presented before: a replay.
 */
export function spendStateNonce(doc: StoreDocument, hash: string, nonce: string, now: number): boolean {
  const invites = invitesOf(doc);
  const rec = usableInvite(doc, hash, now);
  if (!rec) return false;
  const spent = Array.isArray(rec.spent_states) ? rec.spent_states.filter((n) => typeof n === 'string') : [];
  if (spent.includes(nonce)) return false;
  writableInvites(doc)[hash] = { ...invites[hash]!, spent_states: [...spent, nonce].slice(-SPENT_STATES_KEPT) };
  return true;
}

/** Marks the invite used (inside the update that saves its grant). */
export function markInviteUsed(doc: StoreDocument, hash: string, now: number): void {
  const invites = invitesOf(doc);
  writableInvites(doc)[hash] = { ...invites[hash]!, state: 'used', used_at: formatTimestamp(now) };
}
