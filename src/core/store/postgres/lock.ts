/**
 * Advisory locks for the PostgreSQL store (issue 9). A lock is tried first without waiting, so `onWait`
 * (the spinner) is called once, only when someone holds it; then waited for with the server's own queue,
 * bounded by lock_timeout (-> StoreBusyError, exit 75, naming the holder from pg_stat_activity's
 * application_name "box-qc pid N@host"). An abort cancels the waiting statement from another connection.
 */
import type { PoolClient } from 'pg';
import { StoreBusyError } from '../../../errors.js';
import type { LockWaitInfo } from '../types.js';

export interface AdvisoryOptions {
  waitMs: number;
  signal?: AbortSignal | undefined;
  /** Our host name: the busy message names the holder's host only when it differs. */
  hostname?: string | undefined;
  /** Transaction-level (released by COMMIT/ROLLBACK) instead of session-level. */
  transaction?: boolean;
  /**
   * Session locks: once granted, pass through this transaction-level lock (the store lock) before returning.
   * A writer that saw the previous holder's lock alive inside its transaction (postgres-store.ts) holds the
   * store lock until it commits, so the new holder's first read sees that write: no window in which a
   * process that just lost the lock writes something its successor has not seen. Several names: passed in
   * order (the store lock, then the user's row lock that one-user transactions take instead: issue 20).
   */
  barrier?: readonly string[];
  /**
   * Session locks with a barrier: a statement (values written as literals) sent in the same message right after
   * the uncontended try, so it runs once the lock is ours and the barrier passed, with a snapshot of its own
   * (issue 20: the user's first read under its lock costs no round trip of its own). Its rows come back as
   * HeldAdvisory.after; when the lock was busy they are dropped (read before the lock was ours).
   */
  after?: (literal: (value: string) => string) => string;
  cancel(backendPid: number): Promise<void>;
  onWait(holder: LockWaitInfo): void;
}

export interface HeldAdvisory {
  /**
   * Session locks: unlock and give the connection back (destroyed if it failed). `lost`: the lock is known
   * gone; destroy the connection without a round trip that a silent network could hold until the query timeout.
   */
  release(lost?: boolean): Promise<void>;
  /** The connection holding the lock still answers (so the lock is still ours). */
  alive(): Promise<boolean>;
  /**
   * Runs statements on the lock's own connection, idle while the lock is held (issue 20: one user's reads and
   * checks under its lock cost no main-pool connection and no extra round trip). Not after release().
   */
  use<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** The lock's name (pg_locks lookups) and the server process holding it, when the driver told us. */
  readonly name: string;
  readonly backendPid: number | undefined;
  /** True once the lock's connection reported an error or closed: the server dropped the lock with it. */
  lost(): boolean;
  /** The rows of AdvisoryOptions.after, when it ran holding the lock. */
  readonly after?: ReadonlyArray<Record<string, unknown>>;
}

const HOLDER_SQL = `
  WITH k AS (SELECT hashtextextended($1, 0) AS k)
  SELECT a.application_name AS app
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, k
   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND l.classid = ((k.k >> 32) & 4294967295)::oid AND l.objid = (k.k & 4294967295)::oid
   LIMIT 1`;

/** Best effort: who holds the lock, from the application_name every box-qc connection sets. */
async function lockHolder(c: PoolClient, name: string): Promise<LockWaitInfo> {
  try {
    const r = await c.query<{ app: string | null }>(HOLDER_SQL, [name]);
    const m = /^box-qc pid (\d+)@(.*)$/.exec(r.rows[0]?.app ?? '');
    return m ? { pid: Number(m[1]), host: m[2]! } : {};
  } catch {
    return {};
  }
}

function busyError(holder: LockWaitInfo, myHost: string | undefined): StoreBusyError {
  const who =
    holder.pid === undefined
      ? 'another client'
      : `pid ${holder.pid}${holder.host !== undefined && holder.host !== myHost ? ` on host ${holder.host}` : ''}`;
  return new StoreBusyError(`store busy (held by ${who})`, {
    hint: 'another box-qc is using this store; nothing was lost, try again later',
    details: { pid: holder.pid, host: holder.host },
  });
}

function sqlstate(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** pg keeps the backend pid from BackendKeyData but does not declare it. */
function backendPidOf(c: PoolClient): number | undefined {
  const pid = (c as unknown as { processID?: number | null }).processID;
  return typeof pid === 'number' ? pid : undefined;
}

/** `pg_advisory_xact_lock(...)` for each barrier name, in order, from parameter $first on. */
function barrierSql(names: readonly string[], first: number): string {
  return names.map((_, i) => `pg_advisory_xact_lock(hashtextextended($${first + i}, 0)) AS b${i}`).join(', ');
}

export async function acquireAdvisory(c: PoolClient, name: string, o: AdvisoryOptions): Promise<HeldAdvisory> {
  o.signal?.throwIfAborted();
  const kind = o.transaction ? 'xact_' : '';
  // The barrier rides on the same statement in the common, uncontended case (no extra round trip).
  const barrier = !o.transaction && o.barrier !== undefined && o.barrier.length > 0 ? o.barrier : undefined;
  let after: ReadonlyArray<Record<string, unknown>> | undefined;
  let tried: { rows: Array<{ ok: boolean }> };
  if (barrier !== undefined && o.after !== undefined) {
    // One message, two statements (the simple query protocol: no parameters, literals by the driver's
    // escapeLiteral); the server runs the second after the first has finished, barrier included.
    const literal = (v: string) => c.escapeLiteral(v);
    const both = (await c.query(
      `SELECT pg_try_advisory_lock(hashtextextended(${literal(name)}, 0)) AS ok, ${barrier
        .map((b, i) => `pg_advisory_xact_lock(hashtextextended(${literal(b)}, 0)) AS b${i}`)
        .join(', ')};\n${o.after(literal)}`,
    )) as unknown as Array<{ rows: Array<Record<string, unknown>> }>;
    if (!Array.isArray(both) || both.length !== 2)
      throw new Error('internal error: a multi-statement message did not answer every statement');
    tried = both[0] as { rows: Array<{ ok: boolean }> };
    if (tried.rows[0]?.ok) after = both[1]!.rows;
  } else {
    tried =
      barrier === undefined
        ? await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_${kind}lock(hashtextextended($1, 0)) AS ok`, [name])
        : await c.query<{ ok: boolean }>(
            `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok, ${barrierSql(barrier, 2)}`,
            [name, ...barrier],
          );
  }
  if (!tried.rows[0]?.ok) {
    const holder = await lockHolder(c, name);
    o.onWait(holder);
    // lock_timeout 0 would mean "wait forever".
    await c.query(`SET ${o.transaction ? 'LOCAL ' : ''}lock_timeout = ${Math.max(1, Math.floor(o.waitMs))}`);
    const backendPid = backendPidOf(c);
    const onAbort = () => {
      if (typeof backendPid === 'number') void o.cancel(backendPid);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      o.signal?.throwIfAborted();
      await c.query(`SELECT pg_advisory_${kind}lock(hashtextextended($1, 0))`, [name]);
      // Separate statements here: waiting for the store lock before the user lock could deadlock.
      if (barrier !== undefined) await c.query(`SELECT ${barrierSql(barrier, 1)}`, [...barrier]);
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (sqlstate(err) === '55P03') throw busyError(await lockHolder(c, name).catch(() => holder), o.hostname);
      throw err;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (!o.transaction) await c.query('RESET lock_timeout').catch(() => {});
    }
  }
  return held(c, name, o.transaction === true, after);
}

function held(
  c: PoolClient,
  name: string,
  transaction: boolean,
  after: ReadonlyArray<Record<string, unknown>> | undefined,
): HeldAdvisory {
  let released = false;
  let lost = false;
  const onLost = () => {
    lost = true;
  };
  if (!transaction) c.on('error', onLost).on('end', onLost);
  return {
    name,
    ...(after !== undefined ? { after } : {}),
    backendPid: backendPidOf(c),
    lost: () => lost,
    async release(knownLost = false) {
      if (transaction || released) return;
      released = true;
      c.off('error', onLost).off('end', onLost);
      if (knownLost || lost) return c.release(true);
      try {
        await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]);
        c.release();
      } catch (err) {
        // A dead connection: the server already dropped the lock with it.
        c.release(err instanceof Error ? err : true);
      }
    },
    use(fn) {
      if (released) return Promise.reject(new Error('internal error: a released lock connection was used'));
      return fn(c);
    },
    async alive() {
      if (lost) return false;
      try {
        await c.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
  };
}
