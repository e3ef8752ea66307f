/**
 * Room for the saves of refreshes in flight, taken before their POST (issue 15 item 4). A disk that fills
 * while Box is rotating a refresh token must not stop the save of the new pair: that is a lost user. So
 * reserveWrite() allocates, while there is still room, everything a save needs:
 *
 *  - the store lock's content, written to a file of its own: taking the lock is then link(2), which needs
 *    no data block (creating and writing a fresh lock file needs one: the ENOSPC of the issue);
 *  - a pool of TEMP_POOL temps of the store's size plus a margin, written with real bytes so their space is
 *    taken now (grow() says why no fsync is needed). A save overwrites one from offset 0, truncates it to its
 *    length, fsyncs and renames it over the store (atomic-write.ts);
 *  - a slack file of SLACK_PER_RESERVATION bytes per open reservation, for what the saves add to the store.
 *
 * Why a pool of two serves any number of reservations (review-2 finding 12: two temps per reservation were
 * 34 temps, 5.5 MB, for a 122 KB store): temps are used by writes, not by reservations, and this process
 * makes one write at a time. Every update() of a store goes through its UpdateQueue, whose drain() awaits
 * each commit before it starts the next; a commit takes one temp (take()) and either renames it or, failing,
 * gives it back for the retry (afterWrite()). So at most one temp is in use at any moment, however many
 * reservations are open and however the saves are batched. The second temp is the next write's: it never
 * waits on the refill after a rename. The refill comes from the space that rename freed (the old store, the
 * truncated tail of the temp) and, for what that lacks (the store grew by what the batch added), from the
 * slack file, which is shrunk by exactly what a temp is missing (takeSlack) and then grown back, best effort.
 * A reservation stands for at most two writes (the marker, the save) each adding at most SAVE_GROWTH_BYTES;
 * a refill lacks at most about twice what its write added plus a page of rounding per file (tmpfs allocates
 * whole pages): SLACK_PER_RESERVATION covers both writes. Hence on a disk that fills to 0 after the
 * reservations were made, every save they stand for is written (test/integration/store/reserve-pool.test.ts:
 * 32 reservations on a tmpfs filled to 0). Something that takes the freed space between our rename and our
 * refill (another writer on the same disk at that instant) can leave the pool one temp short: the second
 * temp still covers the next write, because a temp the refill could not grow is removed rather than pooled,
 * take() picks a temp that fits before a short one, and a refill that falls short gives back the slack it took
 * (test/integration/store/reserve-refill-full.test.ts). A writer that keeps the disk full takes the freed space
 * after every rename: then the pool covers one more write in all, not one per reservation, and a later save
 * can fail (review 3, tenth session, F1; left open: keeping the old store's blocks as the next temp would
 * write into a file a reader without the lock may still be reading). A save bigger than its temp (long
 * tokens, up to MAX_STORED_TOKEN_BYTES) grows the temp from the slack before writing.
 * On copy-on-write file systems (btrfs, ZFS) an overwrite allocates anew and this guarantee does not hold.
 *
 * A reserved file that vanished (an operator's `rm .*.reserve`, a cleanup script) is dropped and the save
 * takes the normal path (file-store.ts, lock-file.ts onPreparedFailed): review-2 finding 3.
 *
 * Files are named `.<store>.rsv-<host>-<pid>-<start>-<random>[-lock].reserve` (<host>-<pid>-<start>: the
 * owner-tag.ts tag, <host> covering the PID namespace); a reservation of a process that died (same host and
 * namespace, pid gone or reused) is removed by the next reservation or write. release() of the last open
 * reservation removes every file.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StoreWriteError } from '../../../errors.js';
import { writeFailure, type ReservedTemp } from './atomic-write.js';
import { CREATE_EXCLUSIVE, type StoreFs } from './fs-layer.js';
import { prepareLockFile, type LockHost, type PreparedLock } from './lock-file.js';
import { judgeTagged, ownTag } from './owner-tag.js';
import { MAX_STORED_TOKEN_BYTES, type WriteReservation } from '../types.js';

const RESERVE_SUFFIX = '.reserve';
const MARGIN_BYTES = 4096;
/** What one refresh in flight can add to the store in a batch: its in-flight marker (~200 bytes), rounded up. */
const GROWTH_PER_RESERVATION = 512;
/** One write in progress and the next write's (see above). */
const TEMP_POOL = 2;
const PAGE = 4096;
const FILL_CHUNK = 1 << 20;
/** The most one reserved refresh's save adds to the store: a pair of the longest tokens, its marker, times. */
const SAVE_GROWTH_BYTES = 2 * MAX_STORED_TOKEN_BYTES + GROWTH_PER_RESERVATION;
/**
 * Two writes per reservation, each refill lacking about twice its growth plus a page of rounding (~17 KiB).
 * Exact for Box's real tokens (tens of bytes: the growth is a few hundred bytes, far inside this). A refill
 * is sized at 1.25x the new store, so with tokens near MAX_STORED_TOKEN_BYTES it lacks up to ~2.25x the
 * growth (review 3 #4), ~20.7 KiB for two writes: such a save may need free space, as any longer token does
 * (token-endpoint.ts warns). Kept at this size so that reservations stay small on small disks.
 */
export const SLACK_PER_RESERVATION = 2 * SAVE_GROWTH_BYTES + 2 * PAGE;
/** Junk to fill reservations with, made on first use: `status` must not load crypto at start (issue 2). */
let fillBytes: Buffer | undefined;

export type TempOutcome = 'renamed' | 'kept' | 'dropped';

export class WriteReserve {
  private readonly temps: ReservedTemp[] = [];
  private slack: ReservedTemp | undefined;
  private lock: PreparedLock | undefined;
  private open = 0;
  /** Bumped by releaseAll(): a reservation made before it has nothing left to release (review 3 F4). */
  private epoch = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly storePath: string,
    private readonly fs: StoreFs,
    private readonly host: () => LockHost,
  ) {}

  /** Runs fn after every earlier reserve/take/replenish of this store: the pool is changed by one at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  reserve(): Promise<WriteReservation> {
    return this.exclusive(async () => {
      await this.loadTag();
      if (this.open === 0) await this.removeOrphans();
      this.open += 1;
      try {
        this.lock ??= await prepareLockFile(this.fileName('lock'), this.host(), this.fs);
        // New room only: the slack belongs to the reservations already open.
        await this.fill(false);
      } catch (err) {
        this.open -= 1;
        await this.shrink();
        // One message for whichever file did not fit: the errno decides it (disk full, quota, read-only...).
        const cause = err instanceof StoreWriteError && err.cause !== undefined ? err.cause : err;
        throw writeFailure(this.storePath, cause, 'reserving room for the save');
      }
      let released = false;
      const epoch = this.epoch;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await this.exclusive(async () => {
            // releaseAll() (the store closed) may have come first: then this one is gone already, and the
            // reservations open now are others'.
            if (epoch !== this.epoch) return;
            this.open = Math.max(0, this.open - 1);
            await this.shrink();
          });
        },
      };
    });
  }

  /** The pre-written store lock, while a reservation is open. */
  preparedLock(): PreparedLock | undefined {
    return this.open > 0 ? this.lock : undefined;
  }

  /**
   * The prepared lock could not be linked (gone?): forget it; the next reservation prepares another. A page of
   * the slack goes back to the disk for the lock file the caller creates instead: a cleanup that removed the
   * prepared lock on a full disk (`rm .*.reserve`) freed nothing of what we hold open (review 3, tenth
   * session, F2).
   */
  dropLock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    if (lock) void this.fs.unlink(lock.path).catch(() => {});
    return this.exclusive(async () => {
      if (this.slack) await shrinkTo(this.slack, this.slack.size - PAGE);
    });
  }

  /**
   * A reserved temp for one write of `length` bytes, or undefined (none open: the writer creates its own).
   * A temp shorter than the write is grown first, from the slack (a save with long tokens).
   */
  take(length: number): Promise<ReservedTemp | undefined> {
    return this.exclusive(async () => {
      if (this.open === 0 || this.temps.length === 0) return undefined;
      // One that fits, else the largest: a short one first would fail every retry with a full one unused
      // beneath it (review 2, ninth session, F2).
      const fits = this.temps.findIndex((t) => t.size >= length);
      const best = fits >= 0 ? fits : this.temps.reduce((b, t, i, all) => (t.size > all[b]!.size ? i : b), 0);
      const [t] = this.temps.splice(best, 1);
      // The slack is there for this: a save bigger than its temp keeps what it took even if still short, which
      // the write then needs less of from the disk (a write past the temp's size takes new blocks).
      if (t!.size < length) await this.growFromSlack(t!, length, false).catch(() => undefined);
      return t;
    });
  }

  /** After a write: `temp` back if it is still ours ('kept'), removed if it failed for good; the pool topped up. */
  afterWrite(temp: ReservedTemp | undefined, outcome: TempOutcome): Promise<void> {
    return this.exclusive(async () => {
      if (temp && outcome === 'kept') this.temps.push(temp);
      if (temp && outcome === 'dropped') await discard(temp, this.fs);
      if (this.open === 0) return this.shrink();
      // The prepared lock was dropped (a cleanup removed it): prepared again before the refill, from the page
      // the lock just released freed, or the next commit's lock file finds no room on a full disk (review 4,
      // tenth session).
      if (!this.lock)
        this.lock = await prepareLockFile(this.fileName('lock'), this.host(), this.fs).catch(() => undefined);
      await this.fill(true).catch(() => undefined);
    });
  }

  /**
   * Brings the pool to TEMP_POOL temps, each big enough for the next write, and the slack to its size;
   * throws on the first failure. Space a temp lacks is taken from the slack before giving up. A temp is
   * grown only once the store has eaten into its margin (below half of it): regrowing every temp after
   * every commit cost 5,000 extra syncs in a 1,000-user `refresh --all`.
   */
  private async fill(fromSlack: boolean): Promise<void> {
    const size = await this.fs.lstat(this.storePath).then(
      (s) => s.size,
      () => 0,
    );
    const need = size + Math.ceil(size / 4) + MARGIN_BYTES + GROWTH_PER_RESERVATION * this.open;
    const enough = size + Math.ceil(size / 8) + MARGIN_BYTES / 2 + GROWTH_PER_RESERVATION * this.open;
    const grown = (t: ReservedTemp) => (fromSlack ? this.growFromSlack(t, need) : grow(t, need));
    for (const t of this.temps) if (t.size < enough) await grown(t);
    while (this.temps.length < TEMP_POOL) {
      // Pooled only once grown: a temp the disk could not fill is removed, its space back to the disk.
      const temp = await this.create();
      try {
        await grown(temp);
      } catch (err) {
        await discard(temp, this.fs);
        throw err;
      }
      this.temps.push(temp);
    }
    this.slack ??= await this.create();
    await grow(this.slack, SLACK_PER_RESERVATION * this.open);
  }

  private async create(): Promise<ReservedTemp> {
    const path = this.fileName('tmp');
    const fh = await this.fs.open(path, CREATE_EXCLUSIVE, 0o600);
    const temp: ReservedTemp = { path, fh, size: 0 };
    try {
      await fh.chmod(0o600);
    } catch (err) {
      await discard(temp, this.fs);
      throw err;
    }
    return temp;
  }

  /**
   * Grows `t` to `size`, from the slack when the disk has no room. If even that falls short and `giveBack`
   * (a refill), `t` goes back to its size and the slack is grown back from what that freed: a failed refill
   * must not leave the slack drained into a temp that is still too short (review 2, ninth session, F2). Best
   * effort: something else may take the freed space first.
   */
  private async growFromSlack(t: ReservedTemp, size: number, giveBack = true): Promise<void> {
    const before = t.size;
    try {
      await grow(t, size);
      return;
    } catch {
      // fall through to the slack
    }
    const s = this.slack;
    const slackBefore = s?.size ?? 0;
    await this.takeSlack(size - t.size);
    try {
      await grow(t, size);
    } catch (err) {
      if (!giveBack) throw err;
      await shrinkTo(t, before);
      if (s) await grow(s, slackBefore).catch(() => undefined);
      throw err;
    }
  }

  /** Frees `bytes` (and a page for rounding) of the slack for a temp to take at once. */
  private async takeSlack(bytes: number): Promise<void> {
    const s = this.slack;
    if (!s || bytes <= 0) return;
    await shrinkTo(s, s.size - bytes - PAGE);
  }

  /**
   * Removes everything once no reservation is open; while one is, the slack shrinks to what the open ones
   * need (the space goes back to the disk) and the pool stays for the next reservation: `refresh --all`
   * releases and reserves once per user, and re-allocating store-sized files each time was most of its cost.
   */
  private async shrink(): Promise<void> {
    if (this.open > 0) {
      const s = this.slack;
      const keep = SLACK_PER_RESERVATION * this.open;
      if (s && s.size > keep) await shrinkTo(s, keep);
      return;
    }
    for (const t of this.temps.splice(0)) await discard(t, this.fs);
    if (this.slack) await discard(this.slack, this.fs);
    this.slack = undefined;
    if (this.lock) {
      await this.fs.unlink(this.lock.path).catch(() => {});
      this.lock = undefined;
    }
  }

  /** Removes what every open reservation holds (the store is closing). */
  async releaseAll(): Promise<void> {
    await this.exclusive(async () => {
      this.open = 0;
      this.epoch += 1;
      await this.shrink();
    });
  }

  private tag: string | undefined;
  private async loadTag(): Promise<string> {
    const h = this.host();
    return (this.tag ??= await ownTag(h.hostname, h.pid));
  }

  private fileName(kind: 'tmp' | 'lock'): string {
    return join(
      dirname(this.storePath),
      `${reservePrefix(this.storePath)}${this.tag!}-${randomBytes(6).toString('hex')}${kind === 'lock' ? '-lock' : ''}${RESERVE_SUFFIX}`,
    );
  }

  /**
   * Reservations of processes of this host and PID namespace that are gone (pid dead, or reused: another
   * start time). Another host's or namespace's are left alone: we cannot see its processes (as for locks).
   */
  async removeOrphans(listed?: readonly string[]): Promise<void> {
    const self = await this.loadTag();
    const prefix = reservePrefix(this.storePath);
    // `listed`: the folder as the caller just read it (a commit reads it once for its own orphans).
    const names = listed ?? (await this.fs.readdir(dirname(this.storePath)).catch(() => [] as string[]));
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(RESERVE_SUFFIX)) continue;
      if ((await judgeTagged(name.slice(prefix.length), self, this.host().isPidAlive)) !== 'gone') continue;
      await this.fs.unlink(join(dirname(this.storePath), name)).catch(() => {});
    }
  }
}

function reservePrefix(storePath: string): string {
  return `.${basename(storePath)}.rsv-`;
}

async function discard(t: ReservedTemp, fs: StoreFs): Promise<void> {
  await t.fh.close().catch(() => {});
  await fs.unlink(t.path).catch(() => {});
}

/** Truncates `t` to `size` (at least 0), best effort: on failure `t` keeps its size. */
async function shrinkTo(t: ReservedTemp, size: number): Promise<void> {
  const keep = Math.max(0, size);
  await t.fh.truncate(keep).then(
    () => (t.size = keep),
    () => undefined,
  );
}

/**
 * Writes real bytes from `t.size` up to `size`: the space is taken at write() time (tmpfs allocates the
 * pages, ext4 and XFS reserve delayed-allocation blocks then and fail the write with ENOSPC, not a later
 * writeback). No fdatasync: it would not allocate more, and flushing two store-sized files of junk to disk
 * made every refresh of a 10,000-user store pay twice its size in disk writes. Junk pages that are
 * overwritten, truncated or unlinked before writeback never reach the disk.
 */
async function grow(t: ReservedTemp, size: number): Promise<void> {
  // 1 MiB a write: a 10,000-user store's pool (~14 MB) in 14 writes, not 220 (issue 20: ~1 ms to make).
  const fill = (fillBytes ??= randomBytes(FILL_CHUNK));
  while (t.size < size) {
    const n = Math.min(fill.length, size - t.size);
    const { bytesWritten } = await t.fh.write(fill, 0, n, t.size);
    if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing the reservation'), { code: 'ENOSPC' });
    t.size += bytesWritten;
  }
}
