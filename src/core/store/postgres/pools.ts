/**
 * Connections for the PostgreSQL store (issue 9): `pg` is imported here, on first use only. Two pools: a
 * small one for reads and update() transactions, and one whose connections each hold one user's session
 * advisory lock across a Box call (so they are never shared while held).
 */
import type { Client as PgClient, Pool } from 'pg';
import { BoxQcError } from '../../../errors.js';

export interface Pools {
  main: Pool;
  locks: Pool;
}

export interface PoolSettings {
  connectTimeoutMs: number;
  /** "box-qc pid N@host": lets a waiting client name the holder (postgres/lock.ts). */
  applicationName: string;
  /** Client-side bound on any statement: a server that stops answering must not hang cron forever. */
  queryTimeoutMs: number;
}

export async function createPools(url: string, settings: PoolSettings): Promise<Pools> {
  const { default: pg } = await import('pg');
  const base = {
    // The password comes from the URL, else pg reads PGPASSWORD / ~/.pgpass itself, as libpq does.
    connectionString: url,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    allowExitOnIdle: true,
    application_name: settings.applicationName.slice(0, 63),
    query_timeout: settings.queryTimeoutMs,
    Client: closingClient(pg.Client),
  };
  const pools = {
    main: new pg.Pool({ ...base, max: 2 }),
    locks: new pg.Pool({ ...base, max: 32, idleTimeoutMillis: 5_000 }),
  };
  for (const p of [pools.main, pools.locks]) {
    // A dropped connection must surface as a failed query, never as an unhandled 'error' event.
    p.on('error', () => {});
    p.on('connect', (c) => {
      c.on('error', () => {});
      // Every statement box-qc runs reads the latest commits (READ COMMITTED), whatever the database's or the
      // role's default (ALTER DATABASE/ROLE ... SET default_transaction_isolation, PGOPTIONS): the read under a
      // user's lock rides in one message with the lock's barrier, and under REPEATABLE READ it used the
      // snapshot from before the barrier waited out a commit, handing the session a spent refresh token
      // (review of issue 20's fan-out, finding 1). Queued before the caller's first query on this connection.
      c.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED').catch(() => {});
    });
  }
  return pools;
}

/**
 * pg leaves the socket open when a connect fails on the client side (e.g. SCRAM asked for a password we do
 * not have) and pg-pool drops such a client without ending it: the server then holds it until its
 * authentication_timeout (60 s) and the CLI cannot exit. Destroy the socket of any client that failed.
 */
function closingClient(Base: typeof PgClient): typeof PgClient {
  return class ClosingClient extends Base {
    override connect(): Promise<PgClient>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: PgClient) => void)): void;
    override connect(callback?: unknown): Promise<PgClient> | void {
      const destroy = () =>
        (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      if (typeof callback !== 'function') {
        return super.connect().catch((err: unknown) => {
          destroy();
          throw err;
        });
      }
      const cb = callback as (err: Error | null, c?: PgClient) => void;
      super.connect((err: Error | null) => {
        if (err) destroy();
        cb(err, err ? undefined : this);
      });
    }
  };
}

/** A failure of the driver, the network or the server (mapped by mapPgError), not one of ours. */
export function isDriverError(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof BoxQcError || err.name === 'AbortError') return false;
  return (
    typeof (err as { code?: unknown }).code === 'string' ||
    err instanceof AggregateError ||
    /connect|terminated|timeout|SASL|password|SSL|certificate/i.test(err.message)
  );
}
