/**
 * The library API (package.json "exports" "."): the same access-token lifecycle the CLI uses, so the QC
 * automation can call it in process with the same guarantees (one refresh per user across processes,
 * rotation persisted before use, invalid_grant never wipes a record).
 *
 *   import { openStore, createSession, getValidAccessToken, listFolder } from 'box-qc';
 *   const session = await createSession({ store: openStore() });   // BOX_CLIENT_ID / BOX_CLIENT_SECRET from env
 *   try {
 *     const { accessToken } = await getValidAccessToken(session, 'alice@example.com');
 *     for await (const item of listFolder(session, 'alice@example.com', '0')) console.log(item.type, item.name);
 *   } finally {
 *     await session.close();
 *   }
 */
import { hostname, homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { normalizeEmail, parseHttpUrl, resolveStore, DEFAULT_API_BASE_URL, type Env } from './config.js';
import { ConfigError } from './errors.js';
import { createManualInterrupts } from './deps.js';
import { trackCriticalSections } from './core/critical-sections.js';
import { closeHttpContext, createHttpContext } from './core/http/request.js';
import { getValidAccessToken, type Session } from './core/session.js';
import { listFolderItems, type FolderItem, type ListFolderOptions } from './core/box/client.js';
import { refreshMany, exitCodeFor, type RefreshManyOptions, type RefreshOutcome } from './core/refresh-all.js';
import { openFileStore } from './core/store/file/file-store.js';
import { listUsers } from './core/store/document.js';
import type { TokenStore } from './core/store/types.js';
import { nodeStoreHost } from './commands/shared/open-store.js';

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
export { getValidAccessToken, DEFAULT_MIN_VALID_MS, type Session, type TokenRequest, type AccessTokenResult } from './core/session.js';
export { exitCodeFor, type RefreshOutcome, type RefreshStatus } from './core/refresh-all.js';
export type { TokenStore, StoredUser, StoreDocument, NeedsReconnect, ReconnectReason, TokenPair, BoxIdentity } from './core/store/types.js';
export { VERSION } from './version.js';

export interface OpenStoreOptions {
  /** Bounded wait for a busy lock (ms), default 45 s. */
  lockWaitMs?: number;
  /** Store warnings (mode tightened, network file system); default: ignored. */
  onWarning?: (line: string) => void;
}

/** The file store at `path`, else $BOX_QC_STORE, else $XDG_CONFIG_HOME/box-qc/tokens.json (the CLI's default). */
export function openStore(path?: string, options: OpenStoreOptions = {}, env: Env = process.env): TokenStore {
  // An empty path or BOX_QC_STORE is a ConfigError, never the default store (issue 15 item 11).
  const chosen = resolveStore(path, env, homedir(), 'the store path').path;
  return openFileStore(isAbsolute(chosen) ? chosen : resolve(chosen), {
    ...nodeStoreHost(),
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
}

export interface CreateSessionOptions {
  /** A store from openStore(), or a path; default openStore(). */
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

export async function createSession(options: CreateSessionOptions = {}): Promise<BoxQcSession> {
  const env = options.env ?? process.env;
  const ownsStore = typeof options.store !== 'object';
  const store = typeof options.store === 'object' ? options.store : openStore(options.store, {}, env);
  const log = { debug: options.debug ?? (() => {}) };
  const http = await createHttpContext({ env, log, ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const apiBaseUrl = parseHttpUrl('BOX_API_BASE_URL', options.apiBaseUrl ?? env.BOX_API_BASE_URL?.trim() ?? DEFAULT_API_BASE_URL);
  const clientId = options.clientId ?? env.BOX_CLIENT_ID?.trim();
  const clientSecret = options.clientSecret ?? env.BOX_CLIENT_SECRET?.trim();
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
  // close() waits for a refresh under way (a 401 on a prefetched page) before closing the pool and the store.
  const sections = trackCriticalSections(createManualInterrupts(controller));
  return {
    store,
    http,
    apiBaseUrl,
    // Checked only when a refresh is needed: a fresh token does not need the secret.
    credentials: () => {
      if (!clientId || !clientSecret) {
        throw new ConfigError('BOX_CLIENT_ID and BOX_CLIENT_SECRET are needed to refresh', { code: 'E_CONFIG_MISSING_CREDENTIALS' });
      }
      return { clientId, clientSecret };
    },
    now: () => Date.now(),
    interrupts: sections.interrupts,
    log,
    pid: process.pid,
    host: hostname(),
    // A dead owner's in-flight marker is replayed at once instead of waited out (issue 15 D).
    isPidAlive: nodeStoreHost().isPidAlive,
    async close() {
      await sections.drain();
      await closeHttpContext(http);
      if (ownsStore) await store.close();
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
    renew: async (rejected: string) => (await getValidAccessToken(session, who, { rejectedAccessToken: rejected })).accessToken,
  };
  yield* listFolderItems({ http: session.http, apiBaseUrl: session.apiBaseUrl }, folderId, auth, options);
}

/** `refresh --all` in process: every connected user (or `emails`), bounded concurrency, one outcome each. */
export async function refreshUsers(
  session: Session,
  options: Partial<RefreshManyOptions> & { emails?: string[] } = {},
): Promise<{ outcomes: RefreshOutcome[]; exitCode: number }> {
  const emails = options.emails?.map(normalizeEmail) ?? listUsers(await session.store.read());
  const outcomes = await refreshMany(session, emails, { ...options, concurrency: options.concurrency ?? 16 });
  return { outcomes, exitCode: exitCodeFor(outcomes) };
}
