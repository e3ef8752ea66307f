/**
 * The lifecycle lab (test/e2e/refresh-fixtures.ts: emulator + built CLI) with its store in PostgreSQL:
 * users are minted and seeded into the lab's file, then migrated into a fresh database, and the CLI runs
 * with BOX_QC_STORE set to one of two URLs (two "hosts": see test/helpers/pg-cluster.ts).
 */
import { hostname } from 'node:os';
import { startLab, type Lab } from '../../e2e/refresh-fixtures.js';
import { iso } from '../../helpers/time.js';
import { openFileStore } from '../../../src/core/store/index.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { migrateStore } from '../../../src/core/store/migrate.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import type { EmulatorOptions } from '../../../src/emulator/index.js';
import { isPidAlive } from '../../../src/store-host.js';
import type { PgCluster } from '../../helpers/pg-cluster.js';

export interface PgLab {
  lab: Lab;
  db: { name: string; a: string; b: string };
  /** Mints grants, seeds them (access tokens expired when asked) and moves them into PostgreSQL. */
  mintAndSeed(logins: string[], opts?: { expired?: boolean }): Promise<void>;
  readStore(): Promise<StoreDocument>;
  expireAll(): Promise<void>;
  close(): Promise<void>;
}

export function openPg(url: string) {
  return openPostgresStore(url, { pid: process.pid, hostname: hostname(), env: {}, lockWaitMs: 10_000 });
}

export async function startPgLab(cluster: PgCluster, options: EmulatorOptions = {}): Promise<PgLab> {
  const lab = await startLab(options);
  const db = await cluster.createDatabase();
  return {
    lab,
    db,
    async mintAndSeed(logins, opts) {
      await lab.mintAndSeed(logins, opts);
      const from = openFileStore(lab.storePath, { pid: process.pid, isPidAlive, euid: process.geteuid?.() });
      const to = openPg(db.a);
      try {
        await migrateStore(from, to);
      } finally {
        await Promise.all([from.close(), to.close()]);
      }
    },
    async readStore() {
      const s = openPg(db.a);
      try {
        return await s.read();
      } finally {
        await s.close();
      }
    },
    async expireAll() {
      await cluster.query(
        db.name,
        `UPDATE box_qc_tokens SET record = jsonb_set(record, '{access_token_expires_at}', to_jsonb($1::text))`,
        [iso(Date.now() - 60_000)],
      );
    },
    close: () => lab.close(),
  };
}
