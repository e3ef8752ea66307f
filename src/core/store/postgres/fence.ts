/**
 * Lost session locks (issue 15 item 5, interface C): a caller inside withUserLock whose lock connection
 * died (pg_terminate_backend, a failover, a dropped network) may have a successor holding the lock now.
 * Such a caller may write only to finish what it started while it held the lock (it wrote before: the
 * in-flight marker), and only while the row still holds the refresh token and generation it last wrote;
 * anything else is refused with E_STORE_LOCK_LOST (exit 75). Loss is seen from the connection's events and,
 * inside each commit, from pg_locks (a silent network shows nothing on the connection).
 */
import type { ClientBase } from 'pg';
import { TemporaryError } from '../../../errors.js';
import type { Outcome, PendingUpdate } from '../group-commit.js';
import type { HeldAdvisory } from './lock.js';
import type { StoreDocument, StoredUser } from '../types.js';

/** One withUserLock scope, as the store tracks it for fencing. */
export interface UserScope {
  key: string;
  lock: HeldAdvisory;
  /** Sticky: the lock was seen lost (connection event or pg_locks in a commit). */
  lost: boolean;
  /** Something was committed under this scope. */
  wrote: boolean;
  /** The user's refresh token and generation as this scope last committed them (null: no record). */
  baseline?: Mark | null;
}

interface Mark {
  refreshToken: string;
  generation: number;
}

function markOf(u: StoredUser | undefined): Mark | null {
  return u === undefined ? null : { refreshToken: u.refresh_token, generation: u.generation ?? 0 };
}

function sameMark(a: Mark | null | undefined, b: Mark | null | undefined): boolean {
  return a === b || (a != null && b != null && a.refreshToken === b.refreshToken && a.generation === b.generation);
}

export function lockLostError(key: string, location: string, why: 'before' | 'changed'): TemporaryError {
  return why === 'before'
    ? new TemporaryError(
        `lost the lock for ${key} on the PostgreSQL store ${location} (connection closed); nothing written`,
        { code: 'E_STORE_LOCK_LOST' },
      )
    : new TemporaryError(
        `lost the lock for ${key} on the PostgreSQL store ${location}, and another process changed the record since; not overwritten`,
        {
          code: 'E_STORE_LOCK_LOST',
          hint: 'another box-qc took over this user while our connection was gone; run box-qc status to see its state',
        },
      );
}

/** Throws inside the mutation (so only that caller of the batch fails) when a lost scope may not write. */
export function checkScopes(scopes: readonly UserScope[], doc: StoreDocument, location: string): void {
  for (const s of scopes) {
    if (!s.lost) continue;
    if (!s.wrote) throw lockLostError(s.key, location, 'before');
    const u = Object.hasOwn(doc.users, s.key) ? doc.users[s.key] : undefined;
    if (!sameMark(markOf(u), s.baseline)) throw lockLostError(s.key, location, 'changed');
  }
}

/** After COMMIT: the scopes whose mutation succeeded remember what they wrote; then callers are settled. */
export function settle(
  batch: PendingUpdate[],
  outcomes: Outcome[],
  scopesOf: (p: PendingUpdate) => readonly UserScope[],
  doc: StoreDocument,
): void {
  batch.forEach((item, i) => {
    const o = outcomes[i]!;
    if (!o.ok) return item.reject(o.error);
    for (const s of scopesOf(item)) {
      s.wrote = true;
      s.baseline = markOf(Object.hasOwn(doc.users, s.key) ? doc.users[s.key] : undefined);
    }
    item.resolve(o.value);
  });
}

/** The indexes (1-based) of the (pid, lock name) pairs the server shows as held; the arrays are SQL text. */
const heldSql = (pids: string, names: string) => `
  SELECT h.i::int AS i
    FROM unnest(${pids}::int[], ${names}::text[]) WITH ORDINALITY AS h(pid, name, i)
   WHERE EXISTS (
     SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.pid AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = ((hashtextextended(h.name, 0) >> 32) & 4294967295)::oid
        AND l.objid = (hashtextextended(h.name, 0) & 4294967295)::oid)`;

/** The scopes still to check against pg_locks (those whose connection already told us are marked lost here). */
function toCheck(scopes: readonly UserScope[]): UserScope[] {
  const open = scopes.filter((s) => !s.lost && !(s.lost = s.lock.lost()));
  return open.filter((s) => s.lock.backendPid !== undefined);
}

function markUnheld(known: readonly UserScope[], rows: ReadonlyArray<{ i: number }>): void {
  const held = new Set(rows.map((row) => row.i - 1));
  known.forEach((s, i) => {
    if (!held.has(i)) s.lost = true;
  });
}

/**
 * Marks lost every scope whose session lock the server no longer shows as held by its connection. Run under
 * the store lock: a successor's acquisition passes through that lock (postgres/lock.ts `barrier`), so what this
 * transaction commits after seeing the lock held is visible to the successor's first read.
 */
export async function checkHeld(c: ClientBase, scopes: readonly UserScope[]): Promise<void> {
  const known = toCheck(scopes);
  if (known.length === 0) return;
  const r = await c.query<{ i: number }>(heldSql('$1', '$2'), [
    known.map((s) => s.lock.backendPid),
    known.map((s) => s.lock.name),
  ]);
  markUnheld(known, r.rows);
}

/**
 * checkHeld as one statement of a multi-statement message (postgres/scoped.ts sends it with the row locks it
 * must follow, in one round trip): its values written as literals (`literal`: the driver's escapeLiteral), and
 * what to do with its rows. Undefined when there is nothing to ask the server.
 */
export function heldCheck(
  scopes: readonly UserScope[],
  literal: (s: string) => string,
): { sql: string; apply(rows: ReadonlyArray<{ i: number }>): void } | undefined {
  const known = toCheck(scopes);
  if (known.length === 0) return undefined;
  const pids = known.map((s) => String(Math.trunc(Number(s.lock.backendPid))));
  const names = known.map((s) => literal(s.lock.name));
  return {
    sql: heldSql(`ARRAY[${pids.join(', ')}]`, `ARRAY[${names.join(', ')}]`),
    apply: (rows) => markUnheld(known, rows),
  };
}
