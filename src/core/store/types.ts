/**
 * The token store contract shared by every subcommand and by both backends (core/store/file/, core/store/postgres/).
 *
 * File format: the QC backend's `box_tokens.json`, version 1 (issue 3). Field names are snake_case because
 * that file is shared with the Python backend. box-qc's own bookkeeping fields sit beside the backend's and
 * are ignored by its reader; unknown fields (at the top level and per user) are preserved on every save.
 */
import type { HealthRecord } from '../health/types.js';
import type { InviteRecord } from '../invites/types.js';
import type { HistoryLog } from '../history/types.js';

/** One user's record, exactly as stored. */
export interface StoredUser {
  access_token: string;
  refresh_token: string;
  /** receipt time + max(expires_in - 60, 60) s, ISO-8601 UTC with `Z`. */
  access_token_expires_at: string;
  /** First connect; kept on every later save. */
  connected_at: string;
  /** Every save. */
  updated_at: string;
  box_user_id?: string;
  box_user_login?: string;
  box_user_name?: string;

  // ---- box-qc bookkeeping (the backend ignores these) ----
  /** +1 on every rotation; lets a process that waited on the lock see that someone else refreshed. */
  generation?: number;
  /** When the current refresh token was issued (Box kills it 60 days later if unused). */
  refresh_token_issued_at?: string;
  /** Box rejected the refresh token, or a refresh was interrupted past recovery. The record is kept. */
  needs_reconnect?: NeedsReconnect;
  /** A refresh POST was sent and its result not yet saved. Left behind only by a killed process. */
  refresh_in_flight?: RefreshInFlight;
  /** Connection health and its transitions not yet announced (issue 18, core/health/). */
  health?: HealthRecord;

  /** Unknown fields from other writers: preserved. */
  [extra: string]: unknown;
}

export type ReconnectReason =
  /** Box: `invalid_grant` "Refresh token has expired" (unused for 60 days). */
  | 'refresh_token_expired'
  /** Box: `invalid_grant` for an unknown, used or revoked refresh token. */
  | 'refresh_token_invalid'
  /** A refresh was in flight when the process died and Box no longer accepts that refresh token. */
  | 'refresh_interrupted';

export interface NeedsReconnect {
  reason: ReconnectReason;
  /** Human-readable, from Box's error code, never raw description text from the network unescaped. */
  message: string;
  at: string;
}

export interface RefreshInFlight {
  since: string;
  pid: number;
  host: string;
  /** The generation the refresh started from. */
  generation: number;
  /** The owner process's random id (REVIEW-2 #5); absent in markers of older versions. */
  nonce?: string;
  /** The owner's PID namespace, e.g. `pid:[4026531836]`. */
  pid_ns?: string;
  /** The owner's bound (ms after `since`) for saving its answer. */
  bound_ms?: number;
}

export interface StoreDocument {
  version: 1;
  users: Record<string, StoredUser>;
  /** Issue 17: connect links, keyed by the SHA-256 of their token (core/invites/). */
  invites?: Record<string, InviteRecord>;
  [extra: string]: unknown;
}

/**
 * One user's slice of the store (readUser): every top-level field (e.g. `version`, unknown fields) and `users`
 * holding that user when stored. A backend may hand back more users (the file store returns its whole
 * document); code reading one user goes through getUser(snapshot, email) either way.
 */
export type UserSnapshot = StoreDocument;

/** readUser() options (issue 20). */
export interface ReadUserOptions {
  /**
   * The slice is only shown (`status --email` without --check): nothing in it is sent to Box or saved from
   * it. The file store then validates only this user's record of the file it parsed; otherwise it validates
   * the whole document, as a save would. The PostgreSQL store reads one row either way.
   */
  displayOnly?: boolean;
}

/** update() options: the lock wait, plus the users the mutation reads and writes (issue 20). */
export interface UpdateOptions extends LockOptions {
  /**
   * The mutation reads and writes only these users (and the top-level fields): the PostgreSQL store then
   * loads and locks only their rows, so one user's save costs the same with 10 users or 100,000. A user
   * outside the scope is absent from the document the mutation sees; changing one is a bug (refused).
   * The file store reads its whole file anyway and ignores the scope.
   */
  emails?: readonly string[];
  /**
   * This update is the in-flight marker of a refresh: the last write before its refresh token is sent to Box
   * (session-post-guard.ts). The encryption wrapper (crypto-store.ts) makes its keyless check there.
   */
  beforePost?: boolean;
  /**
   * Fail this update, with nothing of it written, when the store as the commit reads it under the store lock
   * holds an encrypted value: the error is a StoreHoldsCiphertextError. Honoured by a backend whose
   * reservations say so (WriteReservation.plaintextCheckedAtCommit); the others ignore it.
   */
  plaintextOnly?: boolean;
}

/** What a successful token response gives us, already validated. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds, as Box returned it (not always 3600). */
  expiresIn: number;
}

export interface BoxIdentity {
  id: string;
  login: string;
  name: string;
}

export interface LockWaitInfo {
  /** pid of the current holder, when known. */
  pid?: number;
  host?: string;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** Called once when the lock is busy and we start waiting (commands show a spinner). */
  onWait?: (holder: LockWaitInfo) => void;
  /** Override of the bounded wait (ms). */
  waitMs?: number;
}

/** withUserLock() options (issue 20). */
export interface UserLockOptions extends LockOptions {
  /**
   * fn is handed this user's slice (as readUser gives it), read once the lock was granted: the PostgreSQL
   * store reads it in the same round trip as the lock. A backend may hand undefined (the file store does):
   * the caller reads it then.
   */
  readUser?: boolean;
}

export interface StoreFileInfo {
  location: string;
  exists: boolean;
  /** e.g. 0o600; undefined when missing or not a file store. */
  mode?: number;
  dirMode?: number;
  kind: 'file' | 'postgres';
  /** PostgreSQL: where the store lives (never the password). */
  server?: { host: string; port: number; database: string; user: string | null };
}

/**
 * The longest token the file store reserves room for, in stored bytes: the length of the token's JSON string
 * form without its quotes (JSON.stringify(token).length - 2; VSCHAR tokens only grow by their `"` and `\`).
 * Box's tokens are 32 characters. reserveWrite() keeps room for a pair of this size per open reservation, so a
 * refresh answer with a longer token may not fit a full disk: the protocol treats such a token as unusable
 * (review-2 finding 12).
 */
export const MAX_STORED_TOKEN_BYTES = 2048;

/**
 * The bounded wait for a busy lock (ms), for both backends: longer than the 30 s bound on the refresh POST a
 * user-lock holder may be inside (reliability.md F2), so a waiter outlasts a healthy holder and gives up
 * (StoreBusyError, exit 75) only on one that is stuck.
 */
export const DEFAULT_LOCK_WAIT_MS = 45_000;

/** What reserveWrite() holds; release() (idempotent) gives back what was not used. */
export interface WriteReservation {
  release(): Promise<void>;
  /**
   * The store's top-level fields (no users) as read by the check itself, when the backend read them in the
   * same statement (PostgreSQL, issue 20): a wrapper that needs them right after (crypto-store.ts) need not
   * read them again.
   */
  topLevel?: UserSnapshot;
  /**
   * True when the backend honours UpdateOptions.plaintextOnly: it then tells from what its commit reads under
   * the store lock anyway whether the store holds an encrypted value (the file store: whether its bytes can
   * spell `enc:`, crypto/envelope.ts). The keyless check before a refresh POST (crypto-store.ts) is then made by
   * the in-flight marker's commit, after this reservation and under the lock, rather than by a read of its own:
   * one whole read less per refresh of a big store (issue 20).
   */
  plaintextCheckedAtCommit?: boolean;
}

export interface TokenStore {
  /** Path (file) or redacted URL (postgres), for messages. */
  readonly location: string;
  /**
   * The audit log kept next to this store (issue 18; core/history/), set by the opener (core/store/open.ts).
   * Absent on stores built another way (test fakes): record through core/history/record.ts recordHistory().
   */
  readonly history?: HistoryLog;
  /**
   * A consistent snapshot. Missing store = no users. Corrupt = StoreError (exit 2), never "empty". Read-only:
   * the file store may hand the same frozen document to every reader of unchanged bytes; change the store
   * through update().
   */
  read(): Promise<StoreDocument>;
  /**
   * Runs fn holding this user's cross-process lock. May be held across a network call; never blocks other
   * users. Waits a bounded time, then StoreBusyError (exit 75) naming the holder's pid.
   */
  withUserLock<T>(email: string, fn: (locked?: UserSnapshot) => Promise<T>, options?: UserLockOptions): Promise<T>;
  /**
   * Read-modify-write under the short store-wide lock: re-reads the file, applies `mutate` to the fresh
   * document, writes atomically and durably, returns mutate's result. Concurrent calls in one process may be
   * committed together (group commit). Lock order is always user -> store. `mutate` must depend on nothing
   * but the document it is given (when another mutation of its batch throws, it runs again on a fresh copy),
   * and leave JSON data only: delete a field rather than set it to undefined.
   */
  update<T>(mutate: (doc: StoreDocument) => T, options?: UpdateOptions): Promise<T>;
  /**
   * One user's slice (UserSnapshot), without loading the others: the PostgreSQL store reads one row by its
   * primary key; the file store parses its whole file (ReadUserOptions says how much it validates). Optional for stores written elsewhere: store/scoped.ts falls back to read().
   */
  readUser?(email: string, options?: ReadUserOptions): Promise<UserSnapshot>;
  /**
   * True when readUser and a scoped update() load only the named users' records (PostgreSQL: their rows), so
   * the others' values are not in what they return. The file store parses its whole file either way.
   */
  readonly scopedLoads?: boolean;
  /**
   * Every user in email order, in pages (PostgreSQL: keyset pages of `pageSize` rows), for listings that
   * must not hold 100,000 records at once. Optional: store/scoped.ts falls back to read().
   */
  listUsers?(options?: { pageSize?: number }): AsyncIterable<[string, StoredUser]>;
  /** Fails (without side effects on the store) if a save could not be written now: no room, not writable. */
  ensureWritable(): Promise<void>;
  /**
   * Reserves everything the next update() calls of this process need (issue 15 item 4): after it resolves,
   * until release(), those saves need no new disk space (file store: a pre-written store lock to link into
   * place and pre-allocated temp files), so a disk that fills during a refresh POST cannot stop the save of
   * its rotated pair. Fails with StoreWriteError (exit 1) and no side effect when the room is not there.
   * Replaces ensureWritable() on the refresh path. PostgreSQL: nothing to reserve.
   */
  reserveWrite(): Promise<WriteReservation>;
  inspect(): Promise<StoreFileInfo>;
  /** Releases connections (postgres). */
  close(): Promise<void>;
  /** Encryption at rest (issue 19, core/store/crypto/): absent on a bare backend, whose values are stored as given. */
  readonly tokenCrypto?: TokenCrypto;
}

/** What `store encrypt`, `store rekey` and `store decrypt` do to one user's values. */
export type TokenConversion = 'encrypt' | 'rekey' | 'decrypt';

/**
 * Stored token values (issue 19): every store openStore() returns seals the access and refresh tokens that an
 * update() writes (under the first configured key) and refuses a plaintext write into a store holding
 * encrypted values when no key is configured. A reader turns a stored value into the token with reveal().
 */
export interface TokenCrypto {
  /** The key new values are written under, or undefined when no key is configured. */
  readonly currentKeyId: string | undefined;
  /**
   * The token a stored value stands for (`field`: access_token, refresh_token, refresh_fenced_out.<f>):
   * plaintext as it is; an encrypted one opened, else TokenKeyError (exit 2: no key, unknown key id, or the
   * value does not authenticate for this store, user and field).
   */
  reveal(email: string, field: string, stored: string): Promise<string>;
  /** One user's values converted in one update(); the caller holds the user's lock. */
  convert(email: string, mode: TokenConversion): Promise<'changed' | 'unchanged' | 'missing'>;
  /** After `store decrypt`: drops the store identity when no value is encrypted any more (the seed's format). */
  forgetIdentityIfPlain(): Promise<boolean>;
}
