/**
 * The two TokenStore backends behind one interface for the shared contract tests (issue 9: "the same tests,
 * parametrised"). Worker processes on either backend: test/helpers/store-procs.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../../../src/core/store/index.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import type { LockWaitInfo, TokenStore } from '../../../src/core/store/types.js';
import { isPidAlive } from '../../../src/store-host.js';
import type { PgCluster } from '../../helpers/pg-cluster.js';

export interface StoreOpts {
  lockWaitMs?: number;
  onLockWait?: (holder: LockWaitInfo) => void;
}

export interface BackendInstance {
  /** What a worker or the CLI is given: a file path or a postgres:// URL. */
  location: string;
  /** A second location for the same store (postgres: another user on another loopback address). */
  otherLocation: string;
  open(opts?: StoreOpts, location?: string): TokenStore;
  cleanup(): Promise<void>;
}

export interface Backend {
  name: 'file' | 'postgres';
  create(): Promise<BackendInstance>;
}

export function backends(cluster: () => PgCluster | undefined): Backend[] {
  return [
    {
      name: 'file',
      async create() {
        const dir = mkdtempSync(join(tmpdir(), 'boxqc-contract-'));
        const location = join(dir, 'tokens.json');
        return {
          location,
          otherLocation: location,
          open: (opts = {}, loc = location) =>
            openFileStore(loc, {
              pid: process.pid,
              euid: process.geteuid?.(),
              isPidAlive,
              lockWaitMs: opts.lockWaitMs ?? 2_000,
              ...(opts.onLockWait ? { onLockWait: opts.onLockWait } : {}),
            }),
          cleanup: async () => rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'postgres',
      async create() {
        const db = await cluster()!.createDatabase();
        return {
          location: db.a,
          otherLocation: db.b,
          open: (opts = {}, loc = db.a) =>
            openPostgresStore(loc, {
              pid: process.pid,
              hostname: hostname(),
              lockWaitMs: opts.lockWaitMs ?? 2_000,
              env: {},
              ...(opts.onLockWait ? { onLockWait: opts.onLockWait } : {}),
            }),
          cleanup: async () => {},
        };
      },
    },
  ];
}
