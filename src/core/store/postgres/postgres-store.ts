/**
 * The PostgreSQL-backed TokenStore (issue 9): the same contract as file-store.ts, for automation on several
 * hosts sharing one database. `pg` is imported on first use, so the file store's start-up never loads it.
 *
 * - withUserLock: a session-level advisory lock on a dedicated connection, held across the Box call. The
 *   server drops it the moment that connection dies (a SIGKILLed client's socket is closed by its kernel),
 *   so there is no stale-lock logic at all. Waits are bounded by lock_timeout -> StoreBusyError (75).
 * - update: one transaction under a transaction-level advisory "store" lock (the file store's store lock):
 *   re-read, apply the batch (group commit, as the file store) with the rows it changes locked FOR UPDATE,
 *   write only the changed rows, COMMIT, and only then hand results to callers. Lock order is user -> store.
 * - a lost user lock (its connection terminated) never writes unfenced: see postgres/fence.ts (issue 15 item 5).
 * See ARCHITECTURE.md "PostgreSQL store" and postgres/sql.ts for the schema.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PoolClient } from 'pg';
import { TemporaryError } from '../../../errors.js';
import { UpdateQueue, batchSignal, type PendingUpdate } from '../group-commit.js';
import { normalizeStoreEmail } from '../format.js';
import { describePostgresUrl, mapPgError, redactPostgresUrl, storeSecrets, validatePostgresUrl } from './errors.js';
import { commitTransaction, runWithReconnects, wasCommitted, type TransactionState } from './commit.js';
import { checkScopes, settle, type UserScope } from './fence.js';
import { acquireAdvisory, type HeldAdvisory } from './lock.js';
import { commitScoped, loadPage, loadUser, readUserSql, topLevelOf, userOf } from './scoped.js';
import { onLockConnection, scopeFor } from './lock-connection.js';
import { createPools, isDriverError, type Pools } from './pools.js';
import { historyQuery } from './history-query.js';
import { openPgHistory, type PgHistoryLog, type PgHistoryOptions } from '../../history/pg-history.js';
import { flushHistory } from '../../history/types.js';
import { createSchema, loadDocument, lockName, schemaExists, serverAccepts, storeVersion, type Loaded } from './sql.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  type LockOptions,
  type LockWaitInfo,
  type StoreDocument,
  type StoredUser,
  type StoreFileInfo,
  type TokenStore,
  type UpdateOptions,
  type UserLockOptions,
  type UserSnapshot,
  type WriteReservation,
} from '../types.js';

export interface PostgresStoreOptions {
  /** Bounded lock wait (ms); default DEFAULT_LOCK_WAIT_MS (types.ts), as the file store. */
  lockWaitMs?: number;
  /** The process environment (PGPASSWORD is read by the driver; we only need it to keep it out of messages). */
  env?: Record<string, string | undefined>;
  pid: number;
  hostname?: string;
  onLockWait?: (holder: LockWaitInfo) => (() => void) | void;
  /** Connect timeout (ms); default 10 s. */
  connectTimeoutMs?: number;
  /** The audit log's process facts and warning line (issue 18): the `box_qc_history` table on this store's pool. */
  history?: PgHistoryOptions;
}

/** How long update() keeps replacing a broken connection (a failover takes seconds): see runWithReconnects. */
const COMMIT_RETRY_MS = 15_000;

export function openPostgresStore(
  url: string,
  options: PostgresStoreOptions,
): TokenStore & { init(): Promise<boolean> } {
  validatePostgresUrl(url);
  return new PostgresStore(url, options);
}

class PostgresStore implements TokenStore {
  readonly location: string;
  /** readUser and scoped updates load only the named users' rows. */
  readonly scopedLoads = true;
  readonly history: PgHistoryLog | undefined;
  private readonly url: string;
  private readonly opts: PostgresStoreOptions;
  private readonly secrets: string[];
  private pools: Promise<Pools> | undefined;
  private schema: Promise<void> | undefined;
  private readonly heldUsers = new AsyncLocalStorage<ReadonlyMap<string, UserScope>>();
  /** The withUserLock scopes each fenced mutation was made in (update() below). */
  private readonly scopes = new WeakMap<PendingUpdate['mutate'], readonly UserScope[]>();
  /** The last document seen, with box_qc_store.version at that snapshot (private: callers get copies). */
  private cache: Loaded | undefined;
  private readonly updates = new UpdateQueue((batch) => this.commit(batch));

  constructor(url: string, opts: PostgresStoreOptions) {
    this.url = url;
    this.opts = opts;
    this.location = redactPostgresUrl(url);
    this.secrets = storeSecrets(url, opts.env ?? {});
    this.history = opts.history
      ? openPgHistory(
          async (sql, params) => {
            await this.ensureSchema();
            return this.withClient((c) => historyQuery(c, sql, params));
          },
          this.location,
          opts.history,
        )
      : undefined;
  }

  /** Driver and server errors become one safe line; ours (busy, corrupt row, abort) pass through unchanged. */
  private fail = (err: unknown): unknown =>
    isDriverError(err) ? mapPgError(err, { location: this.location, secrets: this.secrets }) : err;
  private waitMs = (o?: LockOptions) => o?.waitMs ?? this.opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;

  private getPools(): Promise<Pools> {
    this.pools ??= createPools(this.url, {
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      applicationName: `box-qc pid ${this.opts.pid}@${this.opts.hostname ?? 'unknown'}`,
      queryTimeoutMs: (this.opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS) + 30_000,
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
    }).catch((err: unknown) => {
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

  /**
   * One row by primary key and the meta row, whatever the store's size (postgres/scoped.ts); inside
   * withUserLock on the lock's own idle connection (postgres/lock-connection.ts), else on the main pool.
   */
  async readUser(email: string): Promise<UserSnapshot> {
    await this.ensureSchema();
    const key = normalizeStoreEmail(email);
    const read = (c: PoolClient) => loadUser(c, key, this.location);
    const scope = scopeFor(this.heldUsers.getStore(), key);
    if (scope !== undefined) {
      const done = await onLockConnection(scope, read).catch((err: unknown) => {
        throw this.fail(err);
      });
      if (done.ok) return done.value;
    }
    return this.withClient(read);
  }

  /**
   * Keyset pages in primary-key order, one statement each on a connection held only for that statement: a
   * listing of 100,000 users holds one page at a time. Not one snapshot: a user changed between pages is
   * listed as it was when its page was read.
   */
  async *listUsers(options: { pageSize?: number } = {}): AsyncGenerator<[string, StoredUser]> {
    await this.ensureSchema();
    const size = Math.max(1, Math.floor(options.pageSize ?? 1000));
    let after: string | undefined;
    for (;;) {
      const page = await this.withClient((c) => loadPage(c, after, size, this.location));
      yield* page;
      if (page.length < size) return;
      after = page[page.length - 1]![0];
    }
  }

  /** The current document: one tiny query when nothing changed since we last loaded it (postgres/sql.ts). */
  private async snapshot(c: PoolClient): Promise<StoreDocument> {
    if (!this.cache || (await storeVersion(c)) !== this.cache.version)
      this.cache = await loadDocument(c, this.location);
    return structuredClone(this.cache.doc);
  }

  /** options.readUser: the user's slice is read in the lock's own message (lock.ts `after`) when uncontended. */
  async withUserLock<T>(
    email: string,
    fn: (locked?: UserSnapshot) => Promise<T>,
    options?: UserLockOptions,
  ): Promise<T> {
    const key = normalizeStoreEmail(email);
    const held = this.heldUsers.getStore();
    if (held?.has(key)) return fn();
    const lock = await this.lockUser(key, options);
    const scope: UserScope = { key, lock, lost: false, wrote: false };
    try {
      // Parsed here, inside the try: a corrupt record fails this call and the lock is still released.
      const locked = lock.after === undefined ? undefined : userOf(lock.after[0], key, this.location);
      return await this.heldUsers.run(new Map([...(held ?? []), [key, scope]]), () => fn(locked));
    } finally {
      await lock.release(scope.lost);
    }
  }

  private async lockUser(key: string, options: UserLockOptions | undefined): Promise<HeldAdvisory> {
    const client = await this.client('locks');
    const wait: { end?: (() => void) | void } = {};
    try {
      return await acquireAdvisory(client, lockName.user(key), {
        waitMs: this.waitMs(options),
        signal: options?.signal,
        hostname: this.opts.hostname,
        barrier: [lockName.store(), lockName.row(key)],
        ...(options?.readUser === true ? { after: (literal: (v: string) => string) => readUserSql(literal(key)) } : {}),
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

  /**
   * Inside withUserLock, the mutation is fenced (postgres/fence.ts): refused if the lock was lost before this
   * scope wrote anything, or if the row moved since this scope's last write.
   */
  update<T>(mutate: (doc: StoreDocument) => T, options?: UpdateOptions): Promise<T> {
    const scopes = [...(this.heldUsers.getStore()?.values() ?? [])];
    if (scopes.length === 0) return this.updates.enqueue(mutate, options);
    const fenced = (doc: StoreDocument) => {
      checkScopes(scopes, doc, this.location);
      return mutate(doc);
    };
    this.scopes.set(fenced, scopes);
    return this.updates.enqueue(fenced, options);
  }

  private scopesOf = (item: PendingUpdate): readonly UserScope[] => this.scopes.get(item.mutate) ?? [];

  /** The users a batch may touch when every item named its own (UpdateOptions.emails), else undefined. */
  private namedUsers(batch: PendingUpdate[]): string[] | undefined {
    const emails = new Set<string>();
    for (const item of batch) {
      const named = item.options?.emails;
      if (named === undefined) return undefined;
      for (const e of named) emails.add(normalizeStoreEmail(e));
      for (const s of this.scopesOf(item)) emails.add(s.key);
    }
    return [...emails].sort();
  }

  /** One transaction for the whole batch (postgres/commit.ts); callers are settled only after COMMIT returned. */
  private async commit(batch: PendingUpdate[]): Promise<void> {
    await this.ensureSchema();
    const abort = batchSignal(batch);
    try {
      const done = await runWithReconnects({
        retryMs: COMMIT_RETRY_MS,
        stop: () => abort.signal?.aborted === true,
        run: (state) => this.withClient((c) => this.transaction(c, batch, abort.signal, state)),
        verify: (sent) => this.withClient((c) => wasCommitted(c, sent)),
      });
      settle(batch, done.outcomes, this.scopesOf, done.doc);
    } finally {
      abort.dispose();
    }
  }

  private async transaction(
    c: PoolClient,
    batch: PendingUpdate[],
    signal: AbortSignal | undefined,
    state: TransactionState,
  ) {
    const scopes = [...new Set(batch.flatMap(this.scopesOf))];
    const emails = this.namedUsers(batch);
    // One user's save loads and locks that row only; the cache of the whole document is left alone (its
    // version no longer matches, so the next read() loads again: one-user paths never call read()).
    const waitMs = Math.max(...batch.map((b) => this.waitMs(b.options)));
    if (emails !== undefined) {
      // Undefined: the batch changes a top-level field, written under the store lock only (below).
      const scoped = await commitScoped(c, batch, { location: this.location, emails, scopes, waitMs, state });
      if (scoped !== undefined) return scoped;
    }
    const result = await commitTransaction(c, batch, {
      location: this.location,
      scopes,
      state,
      lockStore: () =>
        acquireAdvisory(c, lockName.store(), {
          waitMs,
          signal,
          hostname: this.opts.hostname,
          transaction: true,
          cancel: (pid) => this.cancelBackend(pid),
          onWait: (h) => batch.forEach((b) => b.options?.onWait?.(h)),
        }),
      snapshot: () => this.snapshot(c),
      reload: async () => {
        this.cache = await loadDocument(c, this.location);
        return structuredClone(this.cache.doc);
      },
    });
    // Through JSON, as the row went: the cache must equal what a fresh load would return.
    this.cache = { doc: JSON.parse(JSON.stringify(result.doc)) as StoreDocument, version: result.version };
    return result;
  }

  /**
   * PostgreSQL needs no disk space reserved ahead of a save (interface B), but the check that stood here before
   * the POST stays: the server answers, accepts writes, and the user locks we hold are alive (ensureWritable).
   * The top-level fields read by the same statement are handed on (WriteReservation.topLevel).
   */
  async reserveWrite(): Promise<WriteReservation> {
    const extra = await this.checkWritable();
    return { release: async () => {}, topLevel: topLevelOf(extra, this.location) };
  }

  /**
   * Before a refresh token is spent (session.ts step 3): the database answers, accepts writes (not a standby,
   * not read-only), we may write the table, and the user locks we hold are still alive on their connections.
   */
  async ensureWritable(): Promise<void> {
    await this.checkWritable();
  }

  /**
   * ensureWritable's checks, in one statement per held lock, on that lock's connection (its answer is what
   * proves the connection, and so the lock, alive: postgres/lock-connection.ts); on the main pool when no lock
   * is held. Returns the meta row's top-level fields as that statement read them.
   */
  private async checkWritable(): Promise<Record<string, unknown> | null> {
    await this.ensureSchema();
    let server: Awaited<ReturnType<typeof serverAccepts>> | undefined;
    for (const [email, scope] of this.heldUsers.getStore() ?? []) {
      const done =
        scope.lost || scope.lock.lost()
          ? { ok: false as const }
          : await onLockConnection(scope, (c) => serverAccepts(c)).catch((err: unknown) => {
              throw this.fail(err);
            });
      if (!done.ok) {
        scope.lost = true;
        throw new TemporaryError(
          `lost the lock for ${email} on the PostgreSQL store ${this.location} (connection closed)`,
          { code: 'E_STORE_LOCK_LOST' },
        );
      }
      server ??= done.value;
    }
    server ??= await this.withClient((c) => serverAccepts(c));
    if (server.readOnly) {
      throw new TemporaryError(`the PostgreSQL store ${this.location} is read-only right now (a standby?)`, {
        code: 'E_STORE_READONLY',
      });
    }
    if (!server.mayWrite) throw this.fail(Object.assign(new Error('permission denied'), { code: '42501' }));
    return server.extra;
  }

  async inspect(): Promise<StoreFileInfo> {
    const exists = await this.withClient((c) => schemaExists(c));
    const server = describePostgresUrl(this.url, this.opts.env ?? {});
    return { location: this.location, exists, kind: 'postgres', ...(server ? { server } : {}) };
  }

  async close(): Promise<void> {
    await this.updates.idle();
    await flushHistory(this.history);
    const pools = this.pools;
    this.pools = undefined;
    if (pools) {
      const p = await pools;
      await Promise.allSettled([p.main.end(), p.locks.end()]);
    }
  }
}
