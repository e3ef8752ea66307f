/**
 * The glue every command uses to open the token store: reads the configured path, maps the process facts
 * (pid, euid, liveness, host name) and the output port into the store's options, so core/store never touches
 * `process` or the terminal.
 *
 * BOX_QC_LOCK_WAIT_MS (tests only): overrides the bounded lock wait, default 45 s (longer than the 30 s bound
 * on a refresh POST that a lock holder may be inside: reliability.md F2).
 */
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { ConfigError } from '../../errors.js';
import { openFileStore, type FileStoreOptions } from '../../core/store/file/file-store.js';
import type { TokenStore } from '../../core/store/types.js';
import { isPostgresUrl } from '../../core/store/postgres/errors.js';
import { openPostgresStore } from '../../core/store/postgres/postgres-store.js';

export interface OpenStoreOptions {
  /** Overrides the lock wait (ms). */
  lockWaitMs?: number;
}

/** Process facts for the store's lock files and ownership check. Also used by test/helpers/store-worker.mjs. */
export function nodeStoreHost(): Pick<FileStoreOptions, 'pid' | 'hostname' | 'euid' | 'isPidAlive'> {
  return {
    pid: process.pid,
    hostname: hostname(),
    euid: typeof process.geteuid === 'function' ? process.geteuid() : undefined,
    isPidAlive: isPidAlive,
  };
}

/** kill(pid, 0): ESRCH = gone; EPERM = alive but someone else's. */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function parseLockWaitMs(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ConfigError('BOX_QC_LOCK_WAIT_MS must be a whole number of milliseconds', { code: 'E_CONFIG_LOCK_WAIT' });
  }
  return n;
}

export function openStoreForCommand(ctx: CommandContext, opts: OpenStoreOptions = {}): TokenStore {
  return openStoreAt(ctx, ctx.config().storePath, opts);
}

/** A store path or postgres:// URL (`store migrate` opens two). pg itself loads only on first use (issue 9). */
export function openStoreAt(ctx: CommandContext, storePath: string, opts: OpenStoreOptions = {}): TokenStore {
  // resolve('') is the working folder: an empty path must never open some store by accident (issue 15 item 11).
  if (storePath.trim() === '') {
    throw new ConfigError('the store path is empty: name a token file or a postgres:// URL', { code: 'E_CONFIG_STORE' });
  }
  if (isPostgresUrl(storePath)) return openPostgresForCommand(ctx, storePath, opts);
  const path = isAbsolute(storePath) ? storePath : resolve(storePath);
  const host = nodeStoreHost();
  return openFileStore(path, {
    ...host,
    pid: ctx.deps.pid,
    now: ctx.deps.now,
    lockWaitMs: opts.lockWaitMs ?? parseLockWaitMs(ctx.deps.env.BOX_QC_LOCK_WAIT_MS),
    onWarning: (line) => ctx.out.warn(line),
    onLockWait: (holder) => {
      const who = holder.pid === undefined ? 'another process' : `pid ${holder.pid}`;
      const spinner = ctx.out.spinner(`waiting for the token store (held by ${who})`);
      return () => {
        void spinner.then((s) => s.stop(), () => {});
      };
    },
  });
}

export function openPostgresForCommand(ctx: CommandContext, url: string, opts: OpenStoreOptions = {}): ReturnType<typeof openPostgresStore> {
  return openPostgresStore(url, {
    env: ctx.deps.env,
    pid: ctx.deps.pid,
    hostname: hostname(),
    lockWaitMs: opts.lockWaitMs ?? parseLockWaitMs(ctx.deps.env.BOX_QC_LOCK_WAIT_MS),
    onLockWait: (holder) => {
      const who = holder.pid === undefined ? 'another client' : `pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''}`;
      const spinner = ctx.out.spinner(`waiting for the token store (held by ${who})`);
      return () => {
        void spinner.then((s) => s.stop(), () => {});
      };
    },
  });
}
