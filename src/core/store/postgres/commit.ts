/**
 * The body of one PostgreSQL update() transaction (issue 15 item 5, interface C), run under the store's
 * transaction-level advisory lock: a true read-modify-write. Every row the batch changes (and every row of
 * a user whose lock a caller holds) is locked with SELECT ... FOR UPDATE and compared with the document the
 * mutations ran on; if one moved (a writer that bypassed the advisory locks, or a stale cache), the document
 * is re-read and the batch applied again. A mutation that checks "the row still holds refresh token X" is
 * thus a real fence. Lost session locks are fenced in postgres/fence.ts.
 */
import type { ClientBase } from 'pg';
import { BoxQcError, OperationError, TemporaryError } from '../../../errors.js';
import { applyBatch, checkWritable, type Outcome, type PendingUpdate } from '../group-commit.js';
import { deepFreeze } from '../document-copy.js';
import { checkHeld, type UserScope } from './fence.js';
import { INVITES_TABLE, TOKENS_TABLE, lockName, storeVersion, writeChanges } from './sql.js';
import type { StoreDocument } from '../types.js';

/** The connection broke or the server ended the session (mapPgError's codes): worth one fresh connection. */
export function connectionLost(err: unknown): boolean {
  return err instanceof BoxQcError && /^E_STORE_(UNREACHABLE|UNAVAILABLE)$/.test(err.code);
}

/** Deep equality of JSON values, ignoring key order (jsonb reorders keys). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

export function changedEmails(before: StoreDocument, after: StoreDocument): string[] {
  const out = Object.keys(after.users).filter(
    (e) => !Object.hasOwn(before.users, e) || before.users[e] !== after.users[e],
  );
  for (const e of Object.keys(before.users)) if (!Object.hasOwn(after.users, e)) out.push(e);
  return out;
}

const MAX_ROUNDS = 5;

/**
 * Applies the batch to a document consistent with the locked rows. `first` is the caller's private copy (it
 * is frozen here). `load` re-reads the whole document inside the transaction (rows already locked cannot
 * move any more, so this converges).
 */
export async function readModifyWrite(
  c: ClientBase,
  first: StoreDocument,
  batch: PendingUpdate[],
  mustLock: readonly string[],
  load: () => Promise<StoreDocument>,
  location = '',
): Promise<Applied> {
  const locked = new Map<string, unknown>();
  const lockRows = async (emails: readonly string[]) => {
    const todo = [...new Set(emails)].filter((e) => !locked.has(e)).sort();
    if (todo.length === 0) return;
    const r = await c.query<{ email: string; record: unknown }>(
      `SELECT email, record FROM ${TOKENS_TABLE} WHERE email = ANY($1::text[]) ORDER BY email FOR UPDATE`,
      [todo],
    );
    for (const e of todo) locked.set(e, undefined);
    for (const row of r.rows) locked.set(row.email, row.record);
  };
  const consistent = (doc: StoreDocument) =>
    [...locked].every(([e, rec]) => sameJson(Object.hasOwn(doc.users, e) ? doc.users[e] : undefined, rec));
  // Frozen in place (the caller's private copy): applyBatch then shares its records, so "changed" below is a
  // reference test, not a serialisation of every record.
  let before = deepFreeze(first);
  await lockRows(mustLock);
  for (let round = 1; ; round++) {
    if (consistent(before)) {
      const applied = applyBatch(before, batch, { location, jsonb: true });
      await lockRows(changedEmails(before, applied.doc));
      if (consistent(before)) return { before, ...applied };
    }
    if (round >= MAX_ROUNDS) {
      throw new TemporaryError(
        "the PostgreSQL store kept changing under a write (another writer bypasses box-qc's locks?)",
        { code: 'E_STORE_CONTENDED' },
      );
    }
    before = deepFreeze(await load());
  }
}

export interface Applied {
  before: StoreDocument;
  doc: StoreDocument;
  outcomes: Outcome[];
}

export interface TransactionState {
  /** Set just before COMMIT is sent: from then on a broken connection may have committed. */
  commitSent: boolean;
  /** What that COMMIT would write (wasCommitted). */
  applied?: Applied;
}

export interface TransactionDeps {
  location: string;
  /** The withUserLock scopes of the batch's callers. */
  scopes: readonly UserScope[];
  state: TransactionState;
  lockStore(): Promise<unknown>;
  /** The current document (the caller's private copy). */
  snapshot(): Promise<StoreDocument>;
  /** A fresh full read inside the transaction (the caller's private copy). */
  reload(): Promise<StoreDocument>;
}

/** BEGIN ... COMMIT for one batch; ROLLBACK on any failure. */
export async function commitTransaction(c: ClientBase, batch: PendingUpdate[], d: TransactionDeps) {
  await c.query('BEGIN');
  try {
    await d.lockStore();
    await checkHeld(c, d.scopes);
    const applied = await readModifyWrite(
      c,
      await d.snapshot(),
      batch,
      d.scopes.map((s) => s.key),
      d.reload,
      d.location,
    );
    checkWritable(applied.doc, d.location);
    const written = await writeChanges(c, applied.before, applied.doc);
    if (written.refused.length > 0) {
      throw new OperationError(
        'E_STORE_NEWER',
        `${d.location}: a newer record for ${written.refused[0]} is already stored; not overwritten`,
        {
          hint: 'another writer changed it without the store lock; retry',
        },
      );
    }
    const version = await storeVersion(c);
    d.state.commitSent = true;
    d.state.applied = applied;
    await c.query('COMMIT');
    return { ...applied, version };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * After the connection broke during COMMIT: true if the rows the batch changed hold what it wrote, false if
 * they still hold what it read (not committed; run the batch again). A transaction is atomic, so one row
 * answers for all; all are compared anyway.
 */
export async function wasCommitted(c: ClientBase, a: Applied): Promise<boolean> {
  const emails = changedEmails(a.before, a.doc);
  const hashes = changedInvites(a.before, a.doc);
  if (emails.length === 0) return hashes.length === 0 || invitesCommitted(c, a, hashes);
  // The orphaned backend may still be inside that COMMIT, holding the store lock (or, for a one-user batch,
  // its rows' locks: postgres/scoped.ts): wait for it to finish.
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.store()]);
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest($1::text[]) AS n', [
      [...emails].sort().map(lockName.row),
    ]);
    const r = await c.query<{ email: string; record: unknown }>(
      `SELECT email, record FROM ${TOKENS_TABLE} WHERE email = ANY($1::text[])`,
      [emails],
    );
    await c.query('COMMIT');
    const now = new Map(r.rows.map((row) => [row.email, row.record]));
    const user = (d: StoreDocument, e: string) => (Object.hasOwn(d.users, e) ? d.users[e] : undefined);
    return emails.every((e) => sameJson(now.get(e), user(a.doc, e)));
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Invite keys whose record the batch replaced, added or removed (issue 17). */
function changedInvites(before: StoreDocument, after: StoreDocument): string[] {
  const was = before.invites ?? {};
  const now = after.invites ?? {};
  const out = Object.keys(now).filter((h) => !Object.hasOwn(was, h) || was[h] !== now[h]);
  for (const h of Object.keys(was)) if (!Object.hasOwn(now, h)) out.push(h);
  return out;
}

/** wasCommitted for a batch that changed invites only (creating or revoking one): their rows answer. */
async function invitesCommitted(c: ClientBase, a: Applied, hashes: string[]): Promise<boolean> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.store()]);
    const r = await c.query<{ token_hash: string; record: unknown }>(
      `SELECT token_hash, record FROM ${INVITES_TABLE} WHERE token_hash = ANY($1::text[])`,
      [hashes],
    );
    await c.query('COMMIT');
    const rows = new Map(r.rows.map((row) => [row.token_hash, row.record]));
    const wanted = a.doc.invites ?? {};
    return hashes.every((h) => sameJson(rows.get(h), Object.hasOwn(wanted, h) ? wanted[h] : undefined));
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export interface ReconnectDeps {
  retryMs: number;
  /** Every caller gave up: stop retrying. */
  stop(): boolean;
  run(state: TransactionState): Promise<Applied>;
  verify(sent: Applied): Promise<boolean>;
}

/**
 * Runs the transaction, replacing a broken connection (a terminated session, a failover) for up to
 * `retryMs`: a save after a refresh must not be lost to it. Before COMMIT was sent the transaction certainly
 * rolled back and is run again; if the connection broke during COMMIT, the rows are read back first
 * (wasCommitted) so that a batch is never applied twice.
 */
export async function runWithReconnects(d: ReconnectDeps): Promise<Applied> {
  const deadline = Date.now() + d.retryMs;
  let unsure: Applied | undefined;
  for (let attempt = 1; ; attempt++) {
    const state: TransactionState = { commitSent: false };
    try {
      if (unsure) {
        if (await d.verify(unsure)) return unsure;
        unsure = undefined;
      }
      return await d.run(state);
    } catch (err) {
      if (!connectionLost(err) || d.stop() || Date.now() >= deadline) throw err;
      if (state.commitSent) unsure = state.applied;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** (attempt - 1), 2_000)));
    }
  }
}
