/**
 * One user's statements on that user's lock connection (issue 20). Inside withUserLock the session lock's
 * connection sits idle across the Box call; the user's reads (readUser: the re-read under the lock, the marker
 * polls) and the check before the POST (ensureWritable: is the lock's connection alive, does the server accept
 * writes) run there instead of queueing for the main pool, whose two connections carry every commit. What they
 * read is the same (one statement, its own snapshot, same server and role); that the lock's connection answered
 * is what alive() used to check with a `SELECT 1` of its own.
 *
 * A connection that fails (broken, closed, or a silent network timed out) means the lock is gone with it: the
 * scope is marked lost (fence.ts, sticky, as the commit's pg_locks check does), and a read is then answered by
 * the main pool as before. A scope already known lost is never used, so a silent connection is waited on once.
 */
import type { PoolClient } from 'pg';
import type { UserScope } from './fence.js';
import { isDriverError } from './pools.js';

/** The held scope whose connection may run a statement for `key`: that user's own, else the innermost held. */
export function scopeFor(held: ReadonlyMap<string, UserScope> | undefined, key: string): UserScope | undefined {
  if (held === undefined) return undefined;
  const own = held.get(key);
  const scope = own ?? [...held.values()].pop();
  return scope === undefined || scope.lost || scope.lock.lost() ? undefined : scope;
}

/**
 * The connection failed, not the statement (a server error leaves the session, and the lock, as they were).
 * A FATAL or PANIC from the server (pg_terminate_backend: 57P01, a shutdown: 57P02/57P03) and the connection
 * errors of class 08 end the session as surely as a broken socket (review of issue 20's fan-out, finding 2).
 */
function connectionFailed(err: unknown): boolean {
  if (!isDriverError(err)) return false;
  const e = err as { severity?: unknown; code?: unknown };
  if (!('severity' in (err as object))) return true;
  const code = typeof e.code === 'string' ? e.code : '';
  return e.severity === 'FATAL' || e.severity === 'PANIC' || code.startsWith('08') || /^57P0[1-3]$/.test(code);
}

export type OnLock<T> = { ok: true; value: T } | { ok: false };

/** Runs `fn` on the scope's lock connection; `{ ok: false }` (scope marked lost) when that connection failed. */
export async function onLockConnection<T>(scope: UserScope, fn: (c: PoolClient) => Promise<T>): Promise<OnLock<T>> {
  try {
    return { ok: true, value: await scope.lock.use(fn) };
  } catch (err) {
    if (!connectionFailed(err)) throw err;
    scope.lost = true;
    return { ok: false };
  }
}
