/**
 * The types the refresh protocol's modules share: what a caller hands getValidAccessToken() (Session, the
 * dependencies; TokenRequest, the one call's wishes). Their own module so that session.ts's helpers
 * (session-failures, session-marker, session-post-guard, session-due) need not import session.ts, which
 * imports them (issue 16 item 3: no import cycles).
 */
import type { ClientCredentials } from '../config.js';
import type { HttpContext, HttpLog } from './http/request.js';
import type { LockWaitInfo, TokenStore } from './store/types.js';

export interface Session {
  store: TokenStore;
  http: HttpContext;
  apiBaseUrl: URL;
  /** Lazy: a fresh access token must not require the client secret. Throws ConfigError when missing. */
  credentials(): ClientCredentials;
  now(): number;
  /** Defers SIGINT/SIGTERM/SIGHUP around the refresh window (deps.interrupts; createManualInterrupts in libraries). */
  interrupts: {
    critical<T>(fn: () => Promise<T>): Promise<T>;
    readonly signal?: AbortSignal;
    readonly stopRequested?: AbortSignal;
  };
  log: HttpLog;
  pid: number;
  host: string;
  /** Bound on the refresh POST (ms); default 30 s (reliability.md §6 step 4). */
  refreshTimeoutMs?: number;
  /** Called once when a user lock is busy (commands show a spinner). */
  onLockWait?: (holder: LockWaitInfo) => void;
  /** A warning for the person (commands: stderr). Best effort: a throw here is ignored. Default: log.debug. */
  warn?: (line: string) => void;
  /** Liveness of a pid on this host: a dead owner's in-flight marker is replayed without waiting. */
  isPidAlive?: (pid: number) => boolean;
  /** How long the save after a refresh 200 is retried before E_ROTATION_NOT_SAVED (ms); default 60 s (session-save.ts). */
  saveBudgetMs?: number;
  /** A marker write slower than this is re-stamped, then aborts the refresh before its POST (ms); default 2 s (session-post-guard.ts). */
  maxMarkerWriteMs?: number;
  /** Marker identity (tests: another "process" in the same one); default: a per-process nonce and /proc's PID namespace. */
  markerIdentity?: { nonce: string; pidNs: string | undefined };
  /** Margin added to refreshTimeoutMs before another process's in-flight marker may be replayed (15 s). */
  markerMarginMs?: number;
}

export interface TokenRequest {
  /** Refresh when the access token expires within this (ms). Default 5 min. */
  minValidMs?: number;
  /** Refresh when the refresh token was issued longer ago than this (ms): keeps users far from Box's 60 days. */
  maxAgeMs?: number;
  /** Refresh even if fresh (refresh --force). Another process's rotation since our read still counts. */
  force?: boolean;
  /** Box answered 401 to this access token: refresh unless the store already holds a different one. */
  rejectedAccessToken?: string;
  /**
   * Default true. false (`refresh`): keeping the refresh token alive is the goal, so an answer without an
   * access token is saved and reported as refreshed (with a warning) instead of refreshing again at once.
   */
  accessTokenNeeded?: boolean;
}
