/**
 * The lock file's types, shared by lock-file.ts (acquire, release) and lock-stale.ts (when a busy lock may be
 * removed), which lock-file.ts imports: their own module so the two do not import each other (issue 16 item 3).
 */
import type { StoreFs } from './fs-layer.js';
import type { LockWaitInfo } from '../types.js';

export interface LockHost {
  pid: number;
  hostname: string;
  /** process.kill(pid, 0): true unless ESRCH. Injected: core does not touch `process`. */
  isPidAlive(pid: number): boolean;
}

export interface LockOwner {
  pid: number;
  host: string;
  bootId?: string | undefined;
  procStart?: string | undefined;
  /** readlink /proc/self/ns/pid of the holder; absent in locks of older box-qc versions. */
  pidNs?: string | undefined;
  nonce: string;
}

export interface AcquireOptions {
  fs: StoreFs;
  host: LockHost;
  /** Lock files owned by anyone but this uid or root are refused (issue 15 item 6); undefined skips it. */
  euid?: number | undefined;
  /**
   * A lock file already written (prepareLockFile): acquiring links it into place, which needs no data
   * blocks, so the lock can be taken on a disk that filled up meanwhile (issue 15 item 4).
   */
  prepared?: PreparedLock | undefined;
  /**
   * The prepared file is gone (ENOENT, ESTALE): the lock is then created the normal way and this is called
   * once, so the caller drops that reservation (review-2 finding 3).
   */
  onPreparedFailed?: (() => void | Promise<void>) | undefined;
  waitMs: number;
  signal?: AbortSignal | undefined;
  onWait?: ((holder: LockWaitInfo) => void) | undefined;
  /** Wall clock (ms). Not used to judge locks any more: see lock-stale.ts UNREADABLE_LOCK_STALE_MS. */
  now(): number;
  /** Monotonic clock (ms), to age an unreadable lock file; default performance.now (a test hook). */
  monotonicNow?: (() => number) | undefined;
}

export interface HeldLock {
  readonly path: string;
  readonly nonce: string;
  release(): Promise<void>;
}

export interface PreparedLock {
  /** A file in the lock's folder holding `owner`; stays until the caller removes it. */
  readonly path: string;
  readonly owner: LockOwner;
}

export interface SeenLock {
  owner: LockOwner | undefined;
  ino: number;
  mtimeMs: number;
  raw: string;
}
