/**
 * The PostgreSQL store's one-user paths (issue 20): what one user's token, refresh or status costs must not
 * grow with the number of users. Every statement here reads rows by the primary key (bench/pg-explain.js
 * prints their plans), never the whole table.
 *
 * A scoped batch (every update() of the batch named its users: UpdateOptions.emails) runs in a transaction that
 * takes, instead of the store-wide advisory lock, a transaction-level advisory lock per named user
 * (`lockName.row`), then loads those rows FOR UPDATE and the meta row. Why that is enough:
 *  - other scoped batches: the row locks serialise writers of the same user; different users never wait
 *    for each other (except on the meta row's version bump, which every write to the table makes);
 *  - unscoped batches (store lock, whole document): they lock FOR UPDATE every row they change and re-read
 *    when a locked row moved (commit.ts readModifyWrite), so they never overwrite a scoped write unseen;
 *  - top-level fields (the meta row) are written under the store lock only: a scoped batch that changes one
 *    is rolled back and run on the store-locked path;
 *  - fencing (fence.ts): a new holder of a user lock passes through that user's row lock as well as the
 *    store lock (lock.ts `barrier`), so what a scoped transaction commits after checkHeld saw its lock held
 *    is visible to the successor's first read, as with the store lock.
 * A scoped load holds only the named users: writeChanges' before/after diff never deletes or touches a row it
 * did not load, and top-level fields of their own tables (absent from both before and after) stay as they are.
 */
import type { ClientBase, QueryResult } from 'pg';
import { OperationError } from '../../../errors.js';
import { applyBatch, checkWritable, type PendingUpdate } from '../group-commit.js';
import { deepFreeze } from '../document-copy.js';
import { validateDocument } from '../format.js';
import type { StoreDocument, StoredUser } from '../types.js';
import { changedEmails, type Applied } from './commit.js';
import { heldCheck, type UserScope } from './fence.js';
import { META_TABLE, TOKENS_TABLE, lockName, writeChanges } from './sql.js';

/** The named rows, locked; `emails` is a text[] in SQL (a parameter, or literals: beginLocked below). */
const lockRowsSql = (emails: string) =>
  `SELECT email, record FROM ${TOKENS_TABLE} WHERE email = ANY(${emails}) ORDER BY email FOR UPDATE`;

/** One user's row and the meta row; `email` is the email in SQL (a parameter, or a literal: withUserLock). */
export const readUserSql = (email: string) =>
  `SELECT m.extra, (SELECT t.record FROM ${TOKENS_TABLE} t WHERE t.email = ${email}) AS record
       FROM (SELECT 1) AS one LEFT JOIN ${META_TABLE} m ON m.id = 1`;

/** The one-user statements, by name (bench/pg-explain.js prints the plan of each). */
export const PER_USER_SQL = {
  readUser: readUserSql('$1'),
  lockRows: lockRowsSql('$1::text[]'),
  readMeta: `SELECT extra FROM ${META_TABLE} WHERE id = 1`,
  firstPage: `SELECT email, record FROM ${TOKENS_TABLE} ORDER BY email LIMIT $1`,
  nextPage: `SELECT email, record FROM ${TOKENS_TABLE} WHERE email > $1 ORDER BY email LIMIT $2`,
};

/** Test-only count of statements by kind (the scoped-load tests check that one user reads one row). */
export const scopedStats = { rowsLoaded: 0 };

function docOf(extra: Record<string, unknown> | null | undefined, users: Record<string, unknown>, location: string) {
  return validateDocument({ ...(extra ?? {}), version: 1, users }, location);
}

/** The top-level fields alone (no user), as readUser('') gives them: what a reservation hands on. */
export function topLevelOf(extra: Record<string, unknown> | null | undefined, location: string): StoreDocument {
  return docOf(extra, {}, location);
}

/** One user's slice (UserSnapshot) from one statement: the meta row and that user's row by primary key. */
export async function loadUser(c: ClientBase, email: string, location: string): Promise<StoreDocument> {
  const r = await c.query<{ extra: Record<string, unknown> | null; record: unknown }>(PER_USER_SQL.readUser, [email]);
  return userOf(r.rows[0], email, location);
}

/** The slice from readUserSql's row (undefined: no row at all, read as no user and no top-level fields). */
export function userOf(
  row: { extra?: unknown; record?: unknown } | undefined,
  email: string,
  location: string,
): StoreDocument {
  const record = row?.record ?? null;
  if (record !== null) scopedStats.rowsLoaded += 1;
  return docOf(
    row?.extra as Record<string, unknown> | null | undefined,
    record === null ? {} : { [email]: record },
    location,
  );
}

/** One keyset page in primary-key order: the users after `after` (exclusive), at most `limit`. */
export async function loadPage(
  c: ClientBase,
  after: string | undefined,
  limit: number,
  location: string,
): Promise<Array<[string, StoredUser]>> {
  const r =
    after === undefined
      ? await c.query<{ email: string; record: unknown }>(PER_USER_SQL.firstPage, [limit])
      : await c.query<{ email: string; record: unknown }>(PER_USER_SQL.nextPage, [after, limit]);
  scopedStats.rowsLoaded += r.rows.length;
  const users = Object.fromEntries(r.rows.map((row) => [row.email, row.record]));
  const doc = docOf({}, users, location);
  return r.rows.map((row) => [row.email, doc.users[row.email]!]);
}

/**
 * BEGIN; the named users' row locks (bounded wait); checkHeld (fence.ts); the named rows FOR UPDATE; the meta
 * row's extra (read only: see commitScoped). Five statements in this order, sent as one message: one round
 * trip instead of five (issue 20). The server still runs each after the one before it has finished, so
 * checkHeld reads pg_locks only once the row locks are ours, and the rows are read (a snapshot of their own,
 * FOR UPDATE) after both, exactly as when they were sent one by one; a failing statement (lock_timeout) ends
 * the message there. The simple query protocol this takes has no parameters: values are written as literals
 * by the driver's escapeLiteral.
 */
async function beginLocked(c: ClientBase, d: ScopedDeps): Promise<StoreDocument> {
  const literal = (v: string) => c.escapeLiteral(v);
  const texts = (xs: readonly string[]) =>
    xs.length === 0 ? `'{}'::text[]` : `ARRAY[${xs.map(literal).join(', ')}]::text[]`;
  const held = heldCheck(d.scopes, literal);
  const statements = [
    'BEGIN',
    `SELECT set_config('lock_timeout', ${literal(String(Math.max(1, Math.floor(d.waitMs))))}, true) AS t,
            pg_advisory_xact_lock(hashtextextended(n, 0)) AS l
       FROM unnest(${texts(d.emails.map(lockName.row))}) AS n`,
    ...(held ? [held.sql] : []),
    lockRowsSql(texts(d.emails)),
    PER_USER_SQL.readMeta,
  ];
  const results = (await c.query(statements.join(';\n'))) as unknown as QueryResult[];
  if (!Array.isArray(results) || results.length !== statements.length)
    throw new Error('internal error: a multi-statement message did not answer every statement');
  if (held) held.apply(results[2]!.rows as Array<{ i: number }>);
  const rows = results[results.length - 2]!.rows as Array<{ email: string; record: unknown }>;
  const meta = results[results.length - 1]!.rows as Array<{ extra: Record<string, unknown> }>;
  scopedStats.rowsLoaded += rows.length;
  return docOf(meta[0]?.extra, Object.fromEntries(rows.map((r) => [r.email, r.record])), d.location);
}

const topLevel = (d: StoreDocument) => {
  const { users: _u, ...rest } = d;
  return JSON.stringify(rest);
};

export interface ScopedDeps {
  location: string;
  /** The users the batch named plus every withUserLock scope of its callers: normalised, sorted. */
  emails: readonly string[];
  scopes: readonly UserScope[];
  /** The bounded wait for the rows' locks (ms). */
  waitMs: number;
  state: { commitSent: boolean; applied?: Applied };
}

/**
 * BEGIN ... COMMIT for a batch of one-user mutations; ROLLBACK on any failure. Undefined (rolled back) when the
 * batch changes a top-level field: run it on the store-locked path instead.
 */
export async function commitScoped(c: ClientBase, batch: PendingUpdate[], d: ScopedDeps): Promise<Applied | undefined> {
  try {
    // Holders of the row locks are short transactions (no network call inside), bounded all the same: a stuck
    // one ends this wait with lock_timeout (mapPgError: StoreBusyError, exit 75), as the store lock's does.
    const before = deepFreeze(await beginLocked(c, d));
    const applied = applyBatch(before, batch, { location: d.location, jsonb: true });
    if (topLevel(applied.doc) !== topLevel(before)) {
      // A top-level field changes (rare: set once). Those are written under the store lock only, as before
      // issue 20, so two writers of top-level fields never lose each other's change: the caller runs this
      // batch again on the store-locked path. Nothing was written here.
      await c.query('ROLLBACK');
      return undefined;
    }
    const named = new Set(d.emails);
    const stray = changedEmails(before, applied.doc).find((e) => !named.has(e));
    if (stray !== undefined)
      throw new Error(`internal error: a mutation scoped to ${d.emails.join(', ')} changed ${stray}`);
    checkWritable(applied.doc, d.location);
    const written = await writeChanges(c, before, applied.doc);
    if (written.refused.length > 0) {
      throw new OperationError(
        'E_STORE_NEWER',
        `${d.location}: a newer record for ${written.refused[0]} is already stored; not overwritten`,
        { hint: 'another writer changed it without the store lock; retry' },
      );
    }
    const result: Applied = { before, ...applied };
    d.state.commitSent = true;
    d.state.applied = result;
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
