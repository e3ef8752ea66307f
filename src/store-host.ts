/**
 * The process facts the token store needs, read from this Node process for the CLI (commands/shared/open-store.ts)
 * and the library (index.ts) alike: core/store takes them as options and never touches `process` (issue 16
 * item 1). Also used by the test workers that open a store from the built dist/.
 *
 * BOX_QC_LOCK_WAIT_MS (tests only): overrides the bounded lock wait, default DEFAULT_LOCK_WAIT_MS (45 s,
 * core/store/types.ts: longer than the 30 s bound on a refresh POST that a lock holder may be inside).
 */
import { hostname, userInfo } from 'node:os';
import { ConfigError } from './errors.js';
import type { OpenStoreOptions, StoreHost } from './core/store/open.js';

/** pid, host name, euid and liveness of this process, for lock files and the ownership check. */
export function nodeStoreHost(): StoreHost {
  return {
    pid: process.pid,
    hostname: hostname(),
    euid: typeof process.geteuid === 'function' ? process.geteuid() : undefined,
    isPidAlive,
    osUser: osUserName(),
  };
}

/** The login name for the audit log (issue 18): the uid when the passwd entry is missing (a container). */
function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'unknown';
  }
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

/**
 * The options every opener starts from: this process, its environment and BOX_QC_LOCK_WAIT_MS. Callers add
 * their own clock, pid (the CLI's Deps) and callbacks (warnings, the lock-wait spinner).
 */
export function nodeStoreOptions(env: Record<string, string | undefined>): OpenStoreOptions {
  return { host: nodeStoreHost(), env, lockWaitMs: parseLockWaitMs(env.BOX_QC_LOCK_WAIT_MS) };
}
