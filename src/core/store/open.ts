/**
 * The one way to open a token store by location (issue 16 item 1), for the CLI's commands and the library
 * alike: a postgres:// URL is the PostgreSQL store, anything else a file path (a relative one is taken from the
 * working folder). Once the library had its own opener, and `openStore('postgres://u@h/db')` made a file store
 * at `<cwd>/postgres:/u@h/db`.
 *
 * The process facts (pid, host name, euid, liveness) and the callbacks arrive as options: core does not touch
 * `process` (src/store-host.ts supplies them). `pg` itself loads only on first use (postgres/pools.ts).
 */
import { resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import { openFileStore } from './file/file-store.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { isPostgresUrl } from './location.js';
import { withTokenCrypto } from './crypto/crypto-store.js';
import { loadKeyring } from './crypto/key-source.js';
import { openFileHistory } from '../history/file-history.js';
import type { HistoryFacts } from '../history/types.js';
import type { LockWaitInfo, TokenStore } from './types.js';
import type { FileCalls } from './file/fs-layer.js';

/** This process, as lock files, in-flight markers and PostgreSQL's application_name record it. */
export interface StoreHost {
  pid: number;
  hostname: string;
  /** Effective uid for the file store's ownership check; undefined skips it (platforms without uids). */
  euid?: number | undefined;
  /** kill(pid, 0) liveness: a dead holder's lock is taken over at once. */
  isPidAlive: (pid: number) => boolean;
  /** The OS user name, for the audit log (issue 18); default `unknown`. */
  osUser?: string;
}

export interface OpenStoreOptions {
  host: StoreHost;
  /** Wall clock (ms); default Date.now. */
  now?: () => number;
  /** The process environment: PGPASSWORD is kept out of messages, PGHOST and friends are shown by `status`. */
  env?: Record<string, string | undefined>;
  /** Bounded lock wait (ms); default DEFAULT_LOCK_WAIT_MS (types.ts), the same for both backends. */
  lockWaitMs?: number;
  /** One line for stderr (file store: mode tightened, durability unknown, network file system). */
  onWarning?: (line: string) => void;
  /** Called once when a lock is busy and waiting starts; the returned function runs when the wait ends. */
  onLockWait?: (holder: LockWaitInfo) => (() => void) | void;
  /** Who writes the audit log's entries (issue 18): the subcommand (`refresh`), default `library`. */
  command?: string;
  /**
   * File store: `direct` node:fs calls for a one-shot command, or `thread-pool` (the default) for a process
   * answering many callers at once (file/fs-layer.ts says why).
   */
  fileCalls?: FileCalls;
}

/**
 * The store at `location`: a file path or a postgres:// URL. An empty location is refused, never the default.
 * Its token values are sealed with the key from BOX_QC_KEY_FILE / BOX_QC_KEY in `options.env` (issue 19,
 * crypto/): a key configured wrongly is a ConfigError here, before anything is read.
 */
export function openStore(location: string, options: OpenStoreOptions): TokenStore {
  const keyring = loadKeyring(options.env ?? {}, options.host.euid);
  return withTokenCrypto(openBackend(location, options), keyring);
}

function openBackend(location: string, options: OpenStoreOptions): TokenStore {
  // resolve('') is the working folder: an empty path must never open some store by accident (issue 15 item 11).
  if (location.trim() === '') {
    throw new ConfigError('the store path is empty: name a token file or a postgres:// URL', {
      code: 'E_CONFIG_STORE',
    });
  }
  if (isPostgresUrl(location)) return openPostgres(location, options);
  const { host } = options;
  const path = resolve(location);
  return openFileStore(path, {
    pid: host.pid,
    hostname: host.hostname,
    euid: host.euid,
    isPidAlive: host.isPidAlive,
    now: options.now,
    lockWaitMs: options.lockWaitMs,
    onWarning: options.onWarning,
    onLockWait: options.onLockWait,
    fileCalls: options.fileCalls,
    history: openFileHistory(path, { facts: historyFacts(options), now: options.now, onWarning: options.onWarning }),
  });
}

/** The PostgreSQL store at `url`, with init() for `box-qc store init`. A malformed URL is a ConfigError. */
export function openPostgres(url: string, options: OpenStoreOptions): ReturnType<typeof openPostgresStore> {
  return openPostgresStore(url, {
    env: options.env ?? {},
    pid: options.host.pid,
    hostname: options.host.hostname,
    lockWaitMs: options.lockWaitMs,
    onLockWait: options.onLockWait,
    history: { facts: historyFacts(options), now: options.now, onWarning: options.onWarning },
  });
}

/** The process facts every history entry carries (core/history/types.ts). */
function historyFacts(options: OpenStoreOptions): HistoryFacts {
  return {
    host: options.host.hostname,
    pid: options.host.pid,
    os_user: options.host.osUser ?? 'unknown',
    command: options.command ?? 'library',
  };
}
