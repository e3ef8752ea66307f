/**
 * The two TokenStore backends behind one interface for the shared contract tests (issue 9: "the same tests,
 * parametrised"), plus a spawner for pg-worker.mjs, which opens either backend from the built dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileStore } from '../../../src/core/store/index.js';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import type { LockWaitInfo, TokenStore } from '../../../src/core/store/types.js';
import { isPidAlive } from '../../../src/commands/shared/open-store.js';
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
          open: (opts = {}, loc = location) => openFileStore(loc, {
            pid: process.pid, euid: process.geteuid?.(), isPidAlive, lockWaitMs: opts.lockWaitMs ?? 2_000,
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
          open: (opts = {}, loc = db.a) => openPostgresStore(loc, {
            pid: process.pid, hostname: hostname(), lockWaitMs: opts.lockWaitMs ?? 2_000, env: {},
            ...(opts.onLockWait ? { onLockWait: opts.onLockWait } : {}),
          }),
          cleanup: async () => {},
        };
      },
    },
  ];
}

export const WORKER = fileURLToPath(new URL('./pg-worker.mjs', import.meta.url));

export interface WorkerArgs {
  op: 'save' | 'nest' | 'hold';
  store: string;
  email: string;
  log?: string;
  rounds?: number;
  barrier?: string;
  lockWaitMs?: number;
}

export interface WorkerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface WorkerRun {
  child: ChildProcess;
  printed(line: string): Promise<void>;
  done: Promise<WorkerResult>;
}

export function startWorker(args: WorkerArgs): WorkerRun {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ line: string; resolve(): void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters) if (stdout.split('\n').includes(w.line)) w.resolve();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    printed: (line) => new Promise<void>((resolve, reject) => {
      if (stdout.split('\n').includes(line)) return resolve();
      waiters.push({ line, resolve });
      void done.then((r) => reject(new Error(`worker exited before printing ${line}: ${JSON.stringify(r)}`)));
    }),
  };
}
