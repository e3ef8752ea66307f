/**
 * The file-backed TokenStore (issue 3): `box_tokens.json` read strictly, written atomically and durably,
 * guarded by a per-user lock (held across a network call) and a short store-wide lock (held for one
 * re-read + write), always taken in the order user -> store.
 *
 * Group commit: update() calls that arrive while a write is in progress in this process wait and are then
 * committed together (one lock, one re-read, mutations applied in arrival order, one atomic write); each
 * caller gets its own result, or its own error if its mutate threw (that mutation alone is skipped). This is
 * what keeps `refresh --all` of 1,000 users from doing 1,000 fsync'ed rewrites of a growing file.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { StoreWriteError } from '../../../errors.js';
import {
  TEMP_SUFFIX,
  tempPrefix,
  writeStoreAtomic,
  writeStoreIntoReserved,
  type ReservedTemp,
} from './atomic-write.js';
import { emptyDocument, normalizeStoreEmail, serializeStore } from '../format.js';
import { withFsOverrides, type FileCalls, type StoreFs } from './fs-layer.js';
import { acquireLock, type HeldLock } from './lock-file.js';
import {
  UpdateQueue,
  applyBatch,
  batchSignal,
  type BatchChanges,
  checkWritable,
  checkWritableChanged,
  type Outcome,
  type PendingUpdate,
} from '../group-commit.js';
import { ensureStoreDir, ensureWritable, inspectStore, warnIfNetworkFs } from './store-dir.js';
import { WriteReserve, type TempOutcome } from './write-reserve.js';
import { judgeTagged, ownTag } from './owner-tag.js';
import { FOR_COMMIT, readStoreFile, type OneUser, type StoreSnapshot } from './read-store.js';
import { checkStoreFolder } from './store-guard.js';
import { ParsedCache } from './parsed-cache.js';
import {
  findMemberValues,
  findRecords,
  isInviteKey,
  joinSpliced,
  recordCount,
  spliceParts,
  type RecordLayout,
  type SplicedBytes,
  type ValueEdit,
} from './record-layout.js';
import { sharedNextRun } from '../next-run.js';
import { deepFreeze } from '../document-copy.js';
import { bytesHoldNoCiphertext, holdsCiphertext } from '../crypto/envelope.js';
import { StoreHoldsCiphertextError } from '../crypto/errors.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  type LockOptions,
  type LockWaitInfo,
  type ReadUserOptions,
  type StoreDocument,
  type StoreFileInfo,
  type TokenStore,
  type WriteReservation,
} from '../types.js';
import { flushHistory, type HistoryLog } from '../../history/types.js';

export interface FileStoreOptions {
  /** Bounded lock wait (ms); default DEFAULT_LOCK_WAIT_MS (types.ts). */
  lockWaitMs?: number;
  /** One line for stderr: store mode tightened, durability unknown, network file system. */
  onWarning?: (line: string) => void;
  /** Called once when a lock is busy and waiting starts; the returned function runs when the wait ends. */
  onLockWait?: (holder: LockWaitInfo) => (() => void) | void;
  /** Wall clock (ms). */
  now?: () => number;
  /** Monotonic clock (ms) aging an unreadable lock file (test hook; default performance.now). */
  monotonicNow?: () => number;
  /** This process (written into lock files). */
  pid: number;
  hostname?: string;
  /** Effective uid for the ownership check; undefined skips it (platforms without uids). */
  euid?: number | undefined;
  /** process.kill(pid, 0) liveness; injected because core does not touch `process`. */
  isPidAlive: (pid: number) => boolean;
  /** The audit log beside this store (issue 18; the opener builds it: core/store/open.ts). */
  history?: HistoryLog;
  /**
   * How node:fs is called (fs-layer.ts): `direct` for a one-shot command, `thread-pool` (the default) for a
   * process that serves many callers at once.
   */
  fileCalls?: FileCalls;
  /** Test hooks: a failing file system, a fixed temp-file name. */
  fs?: Partial<StoreFs>;
  tempRandomId?: () => string;
}

export function userLockPath(storePath: string, email: string): string {
  const hash = createHash('sha256').update(normalizeStoreEmail(email)).digest('hex').slice(0, 24);
  return join(dirname(storePath), `.${basename(storePath)}.user-${hash}.lock`);
}

export function storeLockPath(storePath: string): string {
  return join(dirname(storePath), `.${basename(storePath)}.lock`);
}

export function openFileStore(path: string, options: FileStoreOptions): TokenStore {
  return new FileStore(resolve(path), options);
}

class FileStore implements TokenStore {
  readonly location: string;
  readonly history: HistoryLog | undefined;
  private readonly fs: StoreFs;
  /**
   * Direct calls (fs-layer.ts) whatever `fileCalls` says, for the steps a caller waits through one after
   * another: the store lock, the re-read under it, the write and the lock's release (commits run one at a
   * time, each waiting for the one before), the per-user lock files, the folder's check before each lock,
   * and the writable check before a code exchange. Every thread-pool hop there was a turn of a busy event loop added to every caller's wait, and
   * nothing there is worth sharing: a `serve` finishing 200 callbacks at once spent 54 ms a commit through the
   * pool (25 pool calls, 13 ms taking the lock) and ~30 ms with these direct, and its CPU per flow fell too.
   * fsync still goes through the pool in both layers. Reads keep `fs`: concurrent readers share a run
   * (next-run.ts) only while it takes time, and a run reads the whole file.
   */
  private readonly directFs: StoreFs;
  private readonly opts: FileStoreOptions;
  private readonly heldUsers = new AsyncLocalStorage<ReadonlySet<string>>();
  private readonly updates = new UpdateQueue((batch) => this.commit(batch));
  /** The last bytes read or written and their document: a re-read of unchanged bytes skips parse + validate. */
  private readonly parsed = new ParsedCache();
  private readonly reserve: WriteReserve;

  constructor(path: string, opts: FileStoreOptions) {
    this.location = path;
    this.history = opts.history;
    this.opts = opts;
    this.fs = withFsOverrides(opts.fs, opts.fileCalls);
    this.directFs = withFsOverrides(opts.fs, 'direct');
    this.reserve = new WriteReserve(path, this.fs, () => this.lockHost());
  }

  private warn = (line: string): void => this.opts.onWarning?.(line);
  private now = (): number => (this.opts.now ?? Date.now)();

  /** Concurrent readers (a `serve` answering many links at once) share the next read: next-run.ts. */
  read(): Promise<StoreDocument> {
    return this.sharedRead();
  }

  private readonly sharedRead = sharedNextRun(
    () => this.snapshot().then((s) => s.doc),
    (doc) => deepFreeze(doc),
  );

  /**
   * One user's slice (issue 20). The file is parsed whole and, unless the slice is only to be shown, validated
   * whole, as a save would: a caller that goes on to Box (a refresh, ls, a check, a revoke) never does so for
   * a store it could not save. What was parsed is kept for the next read of the same bytes (parsed-cache.ts),
   * so the refresh path's reads before and under the lock and its commits parse the file once.
   */
  async readUser(email: string, options?: ReadUserOptions): Promise<StoreDocument> {
    const whole = options?.displayOnly !== true;
    return (await this.snapshot({ email: normalizeStoreEmail(email), whole })).doc;
  }

  private async snapshot(onlyUser?: OneUser | typeof FOR_COMMIT, fs = this.fs): Promise<StoreSnapshot> {
    await this.guard();
    return readStoreFile(
      this.location,
      {
        fs,
        euid: this.opts.euid,
        onWarning: this.warn,
        cache: this.parsed,
      },
      onlyUser,
    );
  }

  /**
   * The folder and its lock files judged once per store object, before anything else touches them; again
   * after box-qc created the folder (someone could have made it first: mkdir -p accepts an existing one).
   */
  private guarded: Promise<boolean> | undefined;
  private async guard(): Promise<void> {
    const checked = (this.guarded ??= checkStoreFolder(this.location, this.fs, this.opts.euid));
    try {
      if (!(await checked)) this.guarded = undefined;
    } catch (err) {
      this.guarded = undefined;
      throw err;
    }
  }

  /**
   * The folder checked, created if missing (0700), and checked again when it was just created. Before every
   * lock and save: concurrent callers share the next check (next-run.ts). Its stat is a direct call, as the
   * lock it comes before is: through the pool, one stat per commit and per user lock was the busiest pool call
   * left in a `serve` finishing 200 callbacks (issue 17 bench).
   */
  private readonly prepareDir = sharedNextRun(async () => {
    await this.guard();
    await ensureStoreDir(this.location, this.directFs);
    await this.guard();
  });

  async withUserLock<T>(email: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const key = normalizeStoreEmail(email);
    const held = this.heldUsers.getStore();
    // Re-entrant within the same async call chain. Other callers in this process for the same user wait on
    // the lock file exactly as other processes do: bounded, abortable, reported once through onWait.
    if (held?.has(key)) return fn();
    await this.prepareDir();
    const lock = await this.lock(userLockPath(this.location, key), options);
    try {
      return await this.heldUsers.run(new Set([...(held ?? []), key]), fn);
    } finally {
      await lock.release();
    }
  }

  update<T>(mutate: (doc: StoreDocument) => T, options?: LockOptions): Promise<T> {
    return this.updates.enqueue(mutate, options);
  }

  /** One lock, one re-read, every mutation in order, one write; callers are settled after the lock is released. */
  private async commit(batch: PendingUpdate[]): Promise<void> {
    await this.prepareDir();
    const waitMs = Math.max(...batch.map((b) => b.options?.waitMs ?? this.opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS));
    const abort = batchSignal(batch);
    let lock: HeldLock;
    try {
      lock = await this.lock(storeLockPath(this.location), {
        waitMs,
        signal: abort.signal,
        onWait: (h) => batch.forEach((b) => b.options?.onWait?.(h)),
      });
    } finally {
      abort.dispose();
    }
    let outcomes: Outcome[];
    let renamed = false;
    const used: { temp: ReservedTemp | undefined; outcome: TempOutcome } = { temp: undefined, outcome: 'kept' };
    try {
      try {
        // The cached document as it is (frozen or not): applyBatch freezes what the mutations read.
        const snap = await this.snapshot(FOR_COMMIT, this.directFs);
        const applied = applyBatch(snap.doc, this.refusedAsEncrypted(batch, snap), {
          location: this.location,
          jsonb: false,
          freezeOnRead: true,
        });
        outcomes = applied.outcomes;
        // A batch that set, deleted and swapped nothing (every mutation refused or a no-op) leaves the file as it
        // is, whoever wrote it: a refused keyless marker must not rewrite a store in its own format (review of
        // the keyless check at commit, finding 1).
        const touched = applied.changes.reshaped || applied.changes.keys.size > 0;
        const spliced = touched && snap.exists ? this.splice(snap.bytes, applied) : undefined;
        const bytes = spliced?.spliced ?? (touched ? serializeStore(applied.doc) : snap.bytes);
        const saved = spliced
          ? checkWritableChanged(applied.doc, spliced.changed.keys(), this.location, spliced.changedInvites)
          : touched
            ? checkWritable(applied.doc, this.location)
            : applied.doc;
        // A splice knows without comparing the files: only its records' text can differ.
        const unchanged = !touched
          ? true
          : spliced
            ? spliced.same
            : (bytes as Buffer).equals(snap.exists ? snap.bytes : serializeStore(emptyDocument()));
        if (!unchanged) {
          if (snap.exists) await this.removeOrphanTemps();
          await this.write(bytes, used);
          renamed = true;
          // The next re-read (under this lock or the next) finds exactly these bytes unless another process wrote.
          if (spliced)
            this.parsed.setSpliced(spliced.spliced, saved, applied.base, spliced.layout, spliced.changed.keys());
          else this.parsed.set(bytes as Buffer, saved);
        }
      } finally {
        await lock.release();
      }
    } finally {
      // Before the callers hear back: the next save of a reservation must find its temp ready.
      // Once renamed the batch is committed: a failure to refill the reserve must not report it failed (the
      // queue would commit its items again).
      if (used.temp)
        await this.reserve.afterWrite(used.temp, used.outcome).catch((err: unknown) => {
          if (!renamed) throw err;
        });
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }

  /**
   * The batch, with each plaintextOnly item (UpdateOptions) failing before it runs when the store as read under
   * this lock holds an encrypted value: the keyless check before a refresh POST (crypto-store.ts). The bytes
   * decide first (no `enc:` and no `\u` escape: plaintext, crypto/envelope.ts); only bytes that could spell one
   * are looked at value by value. applyBatch undoes a failed item alone, so nothing of it is written.
   */
  private refusedAsEncrypted(batch: PendingUpdate[], snap: StoreSnapshot): PendingUpdate[] {
    if (!batch.some((item) => item.options?.plaintextOnly === true)) return batch;
    if (!snap.exists || bytesHoldNoCiphertext(snap.bytes) || !holdsCiphertext(snap.doc)) return batch;
    const refused = new StoreHoldsCiphertextError(this.location);
    return batch.map((item) =>
      item.options?.plaintextOnly === true
        ? {
            ...item,
            mutate: () => {
              throw refused;
            },
          }
        : item,
    );
  }

  /**
   * The new file as the old bytes with only the changed records rewritten (record-layout.ts), when that is all
   * the batch did: records of existing users replaced by new objects (applyBatch never changes one in place), and
   * records of existing invites replaced in an `invites` map keyed as before (a connect-link callback's spend and
   * save, issue 17); nothing else reshaped (BatchChanges: no user key deleted, the users map not swapped, no
   * other top-level field changed), no user or invite added or removed. Anything else, most records of a map
   * changed, or a file whose layout the scan cannot vouch for, is serialised whole. `bytes` are the snapshot's,
   * `applied` the batch's result on it.
   */
  private splice(
    bytes: Buffer,
    applied: { base: StoreDocument; doc: StoreDocument; changes: BatchChanges },
  ):
    | {
        spliced: SplicedBytes;
        layout: RecordLayout;
        same: boolean;
        changed: Map<string, unknown>;
        changedInvites: Map<string, number>;
      }
    | undefined {
    const { base, doc: next, changes } = applied;
    if (changes.usersReshaped || [...changes.fields].some((f) => f !== 'invites')) return undefined;
    const changed = new Map<string, unknown>();
    for (const k of changes.keys) {
      if (!Object.hasOwn(base.users, k)) return undefined;
      const record = next.users[k];
      if (record !== base.users[k]) changed.set(k, record);
    }
    const invites = changes.fields.has('invites')
      ? changedInvites(base.invites, next.invites)
      : new Map<string, { n: number; record: unknown }>();
    if (invites === undefined || (changed.size === 0 && invites.size === 0)) return undefined;
    // The invites first: a file they cannot be spliced in (a backslash anywhere) is written whole without a scan of
    // its users (review of the invite splice, finding 1).
    const extra: ValueEdit[] = [];
    if (invites.size > 0) {
      const hashes = [...invites.keys()];
      const spans = findMemberValues(bytes, 'invites', hashes, Object.keys(base.invites!).length, isInviteKey);
      if (spans === undefined) return undefined;
      hashes.forEach((h, i) => extra.push({ ...spans[i]!, value: invites.get(h)!.record }));
    }
    const keys = [...changed.keys()];
    const layout = this.parsed.layout(bytes, base.users, keys);
    if (layout === undefined || changed.size > recordCount(layout) / 2) return undefined;
    const members = findRecords(bytes, layout, keys);
    const replace = new Map<number, unknown>();
    for (let i = 0; i < keys.length; i++) {
      const n = members[i];
      if (n === undefined) return undefined;
      replace.set(n, changed.get(keys[i]!));
    }
    const done = spliceParts(bytes, layout, replace, extra);
    if (done === undefined) return undefined;
    const numbers = new Map([...invites].map(([h, c]) => [h, c.n]));
    return { ...done, changed, changedInvites: numbers };
  }

  /**
   * The atomic write of `bytes`, into a reserved temp when a reservation is open. A reserved temp that is
   * gone (ENOENT/ESTALE: deleted by a cleanup, review-2 finding 3) is dropped and the write falls back to a
   * fresh temp, so the save fails only if the normal path fails too. `used` tells the caller what became of it.
   */
  private async write(
    bytes: Buffer | SplicedBytes,
    used: { temp: ReservedTemp | undefined; outcome: TempOutcome },
  ): Promise<void> {
    const writeOpts = {
      fs: this.directFs,
      onWarning: this.warn,
      randomId: this.opts.tempRandomId,
      ownerTag: await this.ownTag(),
    };
    const temp = (used.temp = await this.reserve.take(bytes.length));
    // Without a reserved temp (no refresh in flight), one buffer: the pieces are joined.
    const whole = () => (Buffer.isBuffer(bytes) ? bytes : joinSpliced(bytes));
    if (!temp) return writeStoreAtomic(this.location, whole(), writeOpts);
    try {
      await writeStoreIntoReserved(this.location, Buffer.isBuffer(bytes) ? [bytes] : bytes.parts, temp, writeOpts);
      used.outcome = 'renamed';
      return;
    } catch (err) {
      // Other errors keep the temp and fail this write, as without a reservation (the caller's retry reuses it).
      if (!reservedFileGone(err)) throw err;
      used.outcome = 'dropped';
      // Closed first: a cleanup that unlinked it (`rm .*.reserve` on a full disk) freed nothing while it was
      // open, and the fresh temp needs those pages (review 3, tenth session, F2).
      await temp.fh.close().catch(() => {});
      await writeStoreAtomic(this.location, whole(), writeOpts);
    }
  }

  /**
   * Temps left by a killed writer go (reliability.md T5: "orphan temps removed"); so do probes, which come
   * from ensureWritable() without the store lock. Names carry their maker (owner-tag.ts): only a gone
   * process's files of this host and PID namespace are removed, never a live one's nor another namespace's
   * (issue 15 review finding 7a). Untagged names (older box-qc, the temp-name test hook) as before.
   */
  private async removeOrphanTemps(): Promise<void> {
    const prefix = tempPrefix(this.location);
    let names: string[];
    try {
      names = await this.directFs.readdir(dirname(this.location));
    } catch {
      return;
    }
    const self = await this.ownTag();
    for (const name of names) {
      if (name.startsWith(prefix) && (name.endsWith(TEMP_SUFFIX) || name.endsWith('.probe'))) {
        const judged = await judgeTagged(name.slice(prefix.length), self, this.opts.isPidAlive);
        if (judged !== 'gone' && judged !== 'untagged') continue;
        await this.directFs.unlink(join(dirname(this.location), name)).catch(() => {});
      }
    }
    // Reservations are made outside the lock: only those of dead processes go.
    await this.reserve.removeOrphans(names);
  }

  /** Both locks, the store's and a user's, are taken and released with direct calls (directFs). */
  private async lock(path: string, options: LockOptions | undefined): Promise<HeldLock> {
    const wait: { end?: (() => void) | void } = {};
    try {
      return await acquireLock(path, {
        fs: this.directFs,
        host: this.lockHost(),
        euid: this.opts.euid,
        // Under a reservation the store lock is linked from a file written ahead: no new block needed.
        prepared: path === storeLockPath(this.location) ? this.reserve.preparedLock() : undefined,
        onPreparedFailed: () => this.reserve.dropLock(),
        waitMs: options?.waitMs ?? this.opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
        signal: options?.signal,
        onWait: (holder) => {
          options?.onWait?.(holder);
          wait.end = this.opts.onLockWait?.(holder);
        },
        now: this.now,
        monotonicNow: this.opts.monotonicNow,
      });
    } catch (err) {
      // A lock we cannot create often has a more basic cause (a store owned by someone else, a corrupt file):
      // report that (exit 2) rather than the lock symptom.
      if (err instanceof StoreWriteError) await this.snapshot();
      throw err;
    } finally {
      if (wait.end) wait.end();
    }
  }

  private ownTag(): Promise<string> {
    const h = this.lockHost();
    return ownTag(h.hostname, h.pid);
  }

  private lockHost() {
    return { pid: this.opts.pid, hostname: this.opts.hostname ?? osHostname(), isPidAlive: this.opts.isPidAlive };
  }

  /** Concurrent callers (a `serve` finishing many callbacks) share the next probe: next-run.ts. */
  private readonly writableCheck = sharedNextRun(async () => {
    await this.prepareDir();
    await ensureWritable(this.location, this.directFs, this.warn, await this.ownTag());
  });

  ensureWritable(): Promise<void> {
    return this.writableCheck();
  }

  async reserveWrite(): Promise<WriteReservation> {
    await this.prepareDir();
    await warnIfNetworkFs(this.location, this.fs, this.warn);
    const reservation = await this.reserve.reserve();
    // UpdateOptions.plaintextOnly is honoured by commit() (refusedAsEncrypted).
    return { ...reservation, plaintextCheckedAtCommit: true };
  }

  inspect(): Promise<StoreFileInfo> {
    return inspectStore(this.location, this.fs);
  }

  async close(): Promise<void> {
    await this.updates.idle();
    await this.reserve.releaseAll();
    await flushHistory(this.history);
  }
}

/** A reserved file was removed under us (or its NFS handle went stale): the normal path is the way out. */
function reservedFileGone(err: unknown): boolean {
  const e = err as { code?: unknown; details?: { errno?: unknown } } | undefined;
  const errno = e?.details?.errno ?? e?.code;
  return errno === 'ENOENT' || errno === 'ESTALE';
}

/**
 * The invite records a batch replaced (hash -> its number in the map, from 1, and the new record), when the
 * maps hold the same keys in the same order (a splice keeps both); undefined otherwise (an invite added, removed
 * or moved, a map made or dropped) or when more than half changed (serialising whole is then no dearer).
 */
function changedInvites(
  before: StoreDocument['invites'],
  after: StoreDocument['invites'],
): Map<string, { n: number; record: unknown }> | undefined {
  if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null) return undefined;
  const was = Object.keys(before);
  const now = Object.keys(after);
  if (was.length !== now.length) return undefined;
  const out = new Map<string, { n: number; record: unknown }>();
  for (let i = 0; i < now.length; i++) {
    const hash = now[i]!;
    if (hash !== was[i]) return undefined;
    if (after[hash] !== before[hash]) out.set(hash, { n: i + 1, record: after[hash] });
  }
  return out.size > now.length / 2 ? undefined : out;
}
