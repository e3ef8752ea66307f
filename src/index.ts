/**
 * The library API (package.json "exports" "."): the same access-token lifecycle the CLI uses, so the QC
 * automation can call it in process with the same guarantees (one refresh per user across processes,
 * rotation persisted before use, invalid_grant never wipes a record).
 *
 *   import { openStore, createSession, getValidAccessToken, listFolder } from 'box-qc';
 *   const session = await createSession();   // BOX_QC_STORE, BOX_CLIENT_ID... read as the CLI reads them
 *   try {
 *     const { accessToken } = await getValidAccessToken(session, 'alice@example.com');
 *     for await (const item of listFolder(session, 'alice@example.com', '0')) console.log(item.type, item.name);
 *   } finally {
 *     await session.close();
 *   }
 */
import { loadConfig, normalizeEmail, parseHttpUrl, type Config, type Env } from './config.js';
import { ConfigError } from './errors.js';
import { createManualInterrupts } from './deps.js';
import { trackCriticalSections } from './core/critical-sections.js';
import { closeHttpContext, createHttpContext } from './core/http/request.js';
import { getValidAccessToken, type Session } from './core/session.js';
import { listFolderItems, type FolderItem, type ListFolderOptions } from './core/box/client.js';
import { refreshMany, exitCodeFor, type RefreshManyOptions, type RefreshOutcome } from './core/refresh-all.js';
import { openStore as openStoreByLocation } from './core/store/open.js';
import { listUsers } from './core/store/document.js';
import type { LockWaitInfo, TokenStore } from './core/store/types.js';
import { nodeStoreHost, nodeStoreOptions } from './store-host.js';

export {
  BoxQcError,
  UsageError,
  ConfigError,
  StoreError,
  StoreWriteError,
  StoreBusyError,
  ReconnectRequiredError,
  TemporaryError,
  BoxApiError,
  OperationError,
  ExitCode,
  isBoxQcError,
} from './errors.js';
export { InvalidGrantError } from './core/oauth/token-endpoint.js';
export { RotationNotSavedError } from './core/session-save.js';
export { NetworkError } from './core/http/request.js';
export { FolderNotFoundError, type FolderItem, type FolderPage, type ListFolderOptions } from './core/box/client.js';
export { UnauthorizedError } from './core/box/errors.js';
export {
  getValidAccessToken,
  DEFAULT_MIN_VALID_MS,
  type Session,
  type TokenRequest,
  type AccessTokenResult,
} from './core/session.js';
export { exitCodeFor, type RefreshOutcome, type RefreshStatus } from './core/refresh-all.js';
export { DEFAULT_REFRESH_CONCURRENCY } from './core/refresh-concurrency.js';
export { DEFAULT_LOCK_WAIT_MS } from './core/store/types.js';
export type {
  TokenStore,
  StoredUser,
  StoreDocument,
  NeedsReconnect,
  ReconnectReason,
  TokenPair,
  BoxIdentity,
} from './core/store/types.js';
export type { HistoryEntry, HistoryFilter, HistoryInput, HistoryLog } from './core/history/types.js';
export { VERSION } from './version.js';

export interface OpenStoreOptions {
  /** Bounded wait for a busy lock (ms); default DEFAULT_LOCK_WAIT_MS (45 s), or BOX_QC_LOCK_WAIT_MS as for the CLI. */
  lockWaitMs?: number;
  /** Store warnings (mode tightened, network file system); default: ignored. */
  onWarning?: (line: string) => void;
  /** Called once when a lock is busy and waiting starts; the returned function runs when the wait ends. */
  onLockWait?: (holder: LockWaitInfo) => (() => void) | void;
}

/** The configuration as the CLI reads it (loadConfig), with the store named as the library's callers know it. */
function libraryConfig(env: Env, store: string | undefined): Config {
  return loadConfig({ env, store, storeName: 'the store path' });
}

/** Through the CLI's opener (core/store/open.ts) with this process's facts: every backend the CLI has. */
function openConfiguredStore(location: string, options: OpenStoreOptions, env: Env): TokenStore {
  // An explicit lockWaitMs is the setting in use: BOX_QC_LOCK_WAIT_MS is then not read (nor refused).
  const base = nodeStoreOptions(options.lockWaitMs === undefined ? env : { ...env, BOX_QC_LOCK_WAIT_MS: undefined });
  return openStoreByLocation(location, {
    ...base,
    lockWaitMs: options.lockWaitMs ?? base.lockWaitMs,
    onWarning: options.onWarning,
    onLockWait: options.onLockWait,
  });
}

/**
 * The store at `path` (a token file or a postgres:// URL), else $BOX_QC_STORE, else
 * $XDG_CONFIG_HOME/box-qc/tokens.json: the CLI's --store rules and validation (an empty path or BOX_QC_STORE is a
 * ConfigError, never the default store: issue 15 item 11).
 */
export function openStore(path?: string, options: OpenStoreOptions = {}, env: Env = process.env): TokenStore {
  return openConfiguredStore(libraryConfig(env, path).storePath, options, env);
}

export interface CreateSessionOptions {
  /** A store from openStore(), or a path or postgres:// URL; default: BOX_QC_STORE, else the default file. */
  store?: TokenStore | string;
  /** Default process.env: BOX_CLIENT_ID, BOX_CLIENT_SECRET, BOX_API_BASE_URL, HTTPS_PROXY, NO_PROXY. */
  env?: Env;
  clientId?: string;
  clientSecret?: string;
  apiBaseUrl?: string;
  /**
   * Cancels waits and requests. Not a refresh whose in-flight marker is written: its POST never carries this
   * signal, its answer is saved, and only then does the call reject with the abort (REVIEW-1 finding 3).
   */
  signal?: AbortSignal;
  /** Per-request timeout (ms), default 30 s. */
  timeoutMs?: number;
  /** Receives the --debug lines: method, path, status, request id, grant type. Never tokens. */
  debug?: (line: string) => void;
}

export interface BoxQcSession extends Session {
  /** Closes keep-alive sockets and the store (only a store this call opened from a path). */
  close(): Promise<void>;
}

/** Checked only when a refresh is needed: a fresh token does not need the secret. */
function lazyCredentials(clientId: string | undefined, clientSecret: string | undefined): Session['credentials'] {
  return () => {
    if (!clientId || !clientSecret) {
      throw new ConfigError('BOX_CLIENT_ID and BOX_CLIENT_SECRET are needed to refresh', {
        code: 'E_CONFIG_MISSING_CREDENTIALS',
      });
    }
    return { clientId, clientSecret };
  };
}

export async function createSession(options: CreateSessionOptions = {}): Promise<BoxQcSession> {
  const env = options.env ?? process.env;
  const given = typeof options.store === 'object' ? options.store : undefined;
  // What the caller passes is the setting in use, as a flag is for the CLI: a store object means BOX_QC_STORE is
  // not consulted (its location may be anything, or absent), an apiBaseUrl that BOX_API_BASE_URL is not.
  const configEnv = {
    ...env,
    ...(given ? { BOX_QC_STORE: undefined } : {}),
    ...(options.apiBaseUrl !== undefined ? { BOX_API_BASE_URL: undefined } : {}),
  };
  const config = libraryConfig(configEnv, typeof options.store === 'string' ? options.store : undefined);
  const apiBaseUrl =
    options.apiBaseUrl === undefined ? config.apiBaseUrl : parseHttpUrl('BOX_API_BASE_URL', options.apiBaseUrl);
  const store = given ?? openConfiguredStore(config.storePath, {}, env);
  const log = { debug: options.debug ?? (() => {}) };
  const http = await createHttpContext({
    env,
    log,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  }).catch(async (err: unknown) => {
    if (!given) await store.close();
    throw err;
  });
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
  // close() waits for a refresh under way (a 401 on a prefetched page) before closing the pool and the store.
  const sections = trackCriticalSections(createManualInterrupts(controller));
  const host = nodeStoreHost();
  return {
    store,
    http,
    apiBaseUrl,
    credentials: lazyCredentials(options.clientId ?? config.clientId, options.clientSecret ?? config.clientSecret),
    now: () => Date.now(),
    interrupts: sections.interrupts,
    log,
    pid: host.pid,
    host: host.hostname,
    // A dead owner's in-flight marker is replayed at once instead of waited out (issue 15 D).
    isPidAlive: host.isPidAlive,
    async close() {
      await sections.drain();
      await closeHttpContext(http);
      if (!given) await store.close();
    },
  };
}

/** Every item of a folder, page by page (two pages in memory); a 401 mid-listing refreshes once and resumes. */
export async function* listFolder(
  session: Session,
  email: string,
  folderId = '0',
  options: ListFolderOptions = {},
): AsyncGenerator<FolderItem, void, undefined> {
  const who = normalizeEmail(email);
  const auth = {
    get: async () => (await getValidAccessToken(session, who)).accessToken,
    renew: async (rejected: string) =>
      (await getValidAccessToken(session, who, { rejectedAccessToken: rejected })).accessToken,
  };
  yield* listFolderItems({ http: session.http, apiBaseUrl: session.apiBaseUrl }, folderId, auth, options);
}

/**
 * `refresh --all` in process: every connected user (or `emails`), at most `concurrency` at once (default
 * DEFAULT_REFRESH_CONCURRENCY, as the CLI's --concurrency), one outcome each.
 */
export async function refreshUsers(
  session: Session,
  options: RefreshManyOptions & { emails?: string[] } = {},
): Promise<{ outcomes: RefreshOutcome[]; exitCode: number }> {
  const emails = options.emails?.map(normalizeEmail) ?? listUsers(await session.store.read());
  const outcomes = await refreshMany(session, emails, options);
  return { outcomes, exitCode: exitCodeFor(outcomes) };
}
