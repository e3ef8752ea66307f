/**
 * The PostgreSQL-backed TokenStore (issue 9): the same contract as file-store.ts, for automation on several
 * hosts sharing one database. `pg` is imported on first use, so the file store's start-up never loads it.
 *
 * - withUserLock: a session-level advisory lock on a dedicated connection, held across the Box call. The
 *   server drops it the moment that connection dies (a SIGKILLed client's socket is closed by its kernel),
 *   so there is no stale-lock logic at all. Waits are bounded by lock_timeout -> StoreBusyError (75).
 * - update: one transaction under a transaction-level advisory "store" lock (the file store's store lock):
 *   re-read, apply the batch (group commit, as the file store), write only the changed rows, COMMIT, and
 *   only then hand results to callers. Lock order is user -> store, as in the file store.
 * See ARCHITECTURE.md "PostgreSQL store" and pg-sql.ts for the schema.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PoolClient } from 'pg';
import { OperationError, TemporaryError } from '../../errors.js';
import { UpdateQueue, applyBatch, batchSignal, checkWritable, type PendingUpdate } from './group-commit.js';
import { normalizeStoreEmail } from './format.js';
import { mapPgError, redactPostgresUrl, storeSecrets, validatePostgresUrl } from './pg-errors.js';
import { acquireAdvisory, type HeldAdvisory } from './pg-lock.js';
import { createPools, isDriverError, type Pools } from './pg-pools.js';
import { TOKENS_TABLE, createSchema, loadDocument, lockName, schemaExists, storeVersion, writeChanges, type Loaded } from './pg-sql.js';
import type { LockOptions, LockWaitInfo, StoreDocument, StoreFileInfo, TokenStore, WriteReservation } from './types.js';

export interface PostgresStoreOptions {
  /** Bounded lock wait (ms), as the file store: above the 30 s refresh POST bound. */
  lockWaitMs?: number;
  /** The process environment (PGPASSWORD is read by the driver; we only need it to keep it out of messages). */
  env?: Record<string, string | undefined>;
  pid: number;
  hostname?: string;
  onLockWait?: (holder: LockWaitInfo) => (() => void) | void;
  /** Connect timeout (ms); default 10 s. */
  connectTimeoutMs?: number;
}

export const DEFAULT_PG_LOCK_WAIT_MS = 45_000;

export function openPostgresStore(url: string, options: PostgresStoreOptions): TokenStore & { init(): Promise<boolean> } {
  validatePostgresUrl(url);
  return new PostgresStore(url, options);
}

class PostgresStore implements TokenStore {
  readonly location: string;
  private readonly url: string;
  private readonly opts: PostgresStoreOptions;
  private readonly secrets: string[];
  private pools: Promise<Pools> | undefined;
  private schema: Promise<void> | undefined;
  private readonly heldUsers = new AsyncLocalStorage<ReadonlyMap<string, HeldAdvisory>>();
  /** The last document seen, with box_qc_store.version at that snapshot (private: callers get copies). */
  private cache: Loaded | undefined;
  private readonly updates = new UpdateQueue((batch) => this.commit(batch));

  constructor(url: string, opts: PostgresStoreOptions) {
    this.url = url;
    this.opts = opts;
    this.location = redactPostgresUrl(url);
    this.secrets = storeSecrets(url, opts.env ?? {});
  }

  /** Driver and server errors become one safe line; ours (busy, corrupt row, abort) pass through unchanged. */
  private fail = (err: unknown): unknown => (isDriverError(err) ? mapPgError(err, { location: this.location, secrets: this.secrets }) : err);
  private waitMs = (o?: LockOptions) => o?.waitMs ?? this.opts.lockWaitMs ?? DEFAULT_PG_LOCK_WAIT_MS;

  private getPools(): Promise<Pools> {
    this.pools ??= createPools(this.url, {
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      applicationName: `box-qc pid ${this.opts.pid}@${this.opts.hostname ?? 'unknown'}`,
      queryTimeoutMs: (this.opts.lockWaitMs ?? DEFAULT_PG_LOCK_WAIT_MS) + 30_000,
    });
    return this.pools;
  }

  private async client(which: keyof Pools): Promise<PoolClient> {
    try {
      return await (await this.getPools())[which].connect();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Runs fn on a main-pool connection; a connection that failed is destroyed, not reused. */
  private async withClient<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.client('main');
    let broken: Error | undefined;
    try {
      return await fn(c);
    } catch (err) {
      // A server-side error leaves a usable connection; a driver/network failure does not.
      if (isDriverError(err) && !('severity' in (err as object))) broken = err as Error;
      throw this.fail(err);
    } finally {
      c.release(broken);
    }
  }

  /** Tables are created on first use (and by `box-qc store init`); checked once per process. */
  private ensureSchema(): Promise<void> {
    this.schema ??= this.withClient(async (c) => {
      await createSchema(c);
    }).catch((err) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  /** `box-qc store init`: creates the tables if missing. Returns whether anything was created. */
  async init(): Promise<boolean> {
    const created = await this.withClient((c) => createSchema(c));
    this.schema = Promise.resolve();
    return created;
  }

  async read(): Promise<StoreDocument> {
    await this.ensureSchema();
    return this.withClient((c) => this.snapshot(c));
  }

  /** The current document: one tiny query when nothing changed since we last loaded it (pg-sql.ts). */
  private async snapshot(c: PoolClient): Promise<StoreDocument> {
    if (!this.cache || (await storeVersion(c)) !== this.cache.version) this.cache = await loadDocument(c, this.location);
    return structuredClone(this.cache.doc);
  }

  async withUserLock<T>(email: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const key = normalizeStoreEmail(email);
    const held = this.heldUsers.getStore();
    if (held?.has(key)) return fn();
    const lock = await this.lockUser(key, options);
    try {
      return await this.heldUsers.run(new Map([...(held ?? []), [key, lock]]), fn);
    } finally {
      await lock.release();
    }
  }

  private async lockUser(key: string, options: LockOptions | undefined): Promise<HeldAdvisory> {
    const client = await this.client('locks');
    const wait: { end?: (() => void) | void } = {};
    try {
      return await acquireAdvisory(client, lockName.user(key), {
        waitMs: this.waitMs(options),
        signal: options?.signal,
        hostname: this.opts.hostname,
        cancel: (pid) => this.cancelBackend(pid),
        onWait: (holder) => {
          options?.onWait?.(holder);
          wait.end = this.opts.onLockWait?.(holder);
        },
      });
    } catch (err) {
      client.release(true);
      throw this.fail(err);
    } finally {
      if (wait.end) wait.end();
    }
  }

  /** Abort while waiting: cancel the waiting statement from another connection (same role may do so). */
  private async cancelBackend(pid: number): Promise<void> {
    await this.withClient((c) => c.query('SELECT pg_cancel_backend($1)', [pid])).catch(() => {});
  }

  update<T>(mutate: (doc: StoreDocument) => T, options?: LockOptions): Promise<T> {
    return this.updates.enqueue(mutate, options);
  }

  /** One transaction for the whole batch; callers are settled only after COMMIT returned. */
  private async commit(batch: PendingUpdate[]): Promise<void> {
    await this.ensureSchema();
    const waitMs = Math.max(...batch.map((b) => this.waitMs(b.options)));
    const abort = batchSignal(batch);
    const outcomes = await this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await acquireAdvisory(c, lockName.store(), {
          waitMs, signal: abort.signal, hostname: this.opts.hostname, transaction: true,
          cancel: (pid) => this.cancelBackend(pid),
          onWait: (h) => batch.forEach((b) => b.options?.onWait?.(h)),
        });
        const before = await this.snapshot(c);
        const applied = applyBatch(before, batch);
        checkWritable(applied.doc, this.location);
        const written = await writeChanges(c, before, applied.doc);
        if (written.refused.length > 0) {
          throw new OperationError('E_STORE_NEWER', `${this.location}: a newer record for ${written.refused[0]} is already stored; not overwritten`, {
            hint: 'another writer changed it without the store lock; retry',
          });
        }
        const version = await storeVersion(c);
        await c.query('COMMIT');
        // Through JSON, as the row went: the cache must equal what a fresh load would return.
        this.cache = { doc: JSON.parse(JSON.stringify(applied.doc)) as StoreDocument, version };
        return applied.outcomes;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        abort.dispose();
      }
    });
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }

  /** Nothing to allocate ahead in a database; the checks of ensureWritable() still apply (issue 15 item 4). */
  async reserveWrite(): Promise<WriteReservation> {
    await this.ensureWritable();
    return { release: async () => {} };
  }

  /**
   * Before a refresh token is spent (session.ts step 3): the database answers, accepts writes (not a standby,
   * not read-only), we may write the table, and the user locks we hold are still alive on their connections.
   */
  async ensureWritable(): Promise<void> {
    await this.ensureSchema();
    for (const [email, lock] of this.heldUsers.getStore() ?? []) {
      if (!(await lock.alive())) {
        throw new TemporaryError(`lost the lock for ${email} on the PostgreSQL store ${this.location} (connection closed)`, { code: 'E_STORE_LOCK_LOST' });
      }
    }
    const r = await this.withClient((c) => c.query<{ rec: boolean; ro: string; w: boolean }>(
      `SELECT pg_is_in_recovery() AS rec, current_setting('transaction_read_only') AS ro,
              has_table_privilege($1, 'SELECT, INSERT, UPDATE, DELETE') AS w`, [TOKENS_TABLE]));
    const row = r.rows[0];
    if (row?.rec || row?.ro === 'on') {
      throw new TemporaryError(`the PostgreSQL store ${this.location} is read-only right now (a standby?)`, { code: 'E_STORE_READONLY' });
    }
    if (!row?.w) throw this.fail(Object.assign(new Error('permission denied'), { code: '42501' }));
  }

  async inspect(): Promise<StoreFileInfo> {
    const exists = await this.withClient((c) => schemaExists(c));
    return { location: this.location, exists, kind: 'postgres' };
  }

  async close(): Promise<void> {
    await this.updates.idle();
    const pools = this.pools;
    this.pools = undefined;
    if (pools) {
      const p = await pools;
      await Promise.allSettled([p.main.end(), p.locks.end()]);
    }
  }
}
