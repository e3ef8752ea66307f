/**
 * Room for the saves of refreshes in flight, taken before their POST (issue 15 item 4). A disk that fills
 * while Box is rotating a refresh token must not stop the save of the new pair: that is a lost user. So
 * reserveWrite() allocates, while there is still room, everything a save needs:
 *
 *  - the store lock's content, written to a file of its own: taking the lock is then link(2), which needs
 *    no data block (creating and writing a fresh lock file needs one: the ENOSPC of the issue);
 *  - temp files of the store's size plus a margin, written with real bytes, so their space is taken now
 *    (grow() below says why no fsync is needed for that). A save overwrites one from offset 0, truncates it
 *    to its length, fsyncs and renames it over the store (atomic-write.ts).
 *
 * How many temps: every write consumes one, and a replacement allocated after a write may find the disk full
 * already (any free-then-allocate can lose the freed space to another writer). Each reservation stands for
 * two update() calls of this process (the in-flight marker before the POST, the save after it); a batch of
 * group commit is one write however many calls it holds, so one temp per call still to come is always
 * enough; after each write the pool is topped up again, best effort. A write that fails before its rename
 * gives its temp back for the retry (which is a further call: the temp it needs is that one).
 * Margin: S/4 + 4 KiB + 512 bytes per open reservation (a batch adds at most a ~200-byte marker per refresh
 * in flight; S/4 covers other writers' growth meanwhile).
 * On copy-on-write file systems (btrfs, ZFS) an overwrite allocates anew and this guarantee does not hold.
 *
 * Files are named `.<store>.rsv-<host>-<pid>-<start>-<random>[-lock].reserve` (<host>-<pid>-<start>: the
 * owner-tag.ts tag, <host> covering the PID namespace); a reservation of a process that died (same host and
 * namespace, pid gone or reused) is removed by the next reservation or write. release() of the last open
 * reservation removes every file.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StoreWriteError } from '../../errors.js';
import { writeFailure, type ReservedTemp } from './atomic-write.js';
import { CREATE_EXCLUSIVE, type StoreFs } from './fs-layer.js';
import { prepareLockFile, type LockHost, type PreparedLock } from './lock-file.js';
import { judgeTagged, ownTag } from './owner-tag.js';
import type { WriteReservation } from './types.js';

const RESERVE_SUFFIX = '.reserve';
const MARGIN_BYTES = 4096;
/** What one refresh in flight can add to the store in a batch: its in-flight marker (~200 bytes), rounded up. */
const GROWTH_PER_RESERVATION = 512;
const WRITES_PER_RESERVATION = 2;
/** Junk to fill reservations with, made on first use: `status` must not load crypto at start (issue 2). */
let fillBytes: Buffer | undefined;

export class WriteReserve {
  private readonly temps: ReservedTemp[] = [];
  private lock: PreparedLock | undefined;
  private open = 0;
  /** Writes the open reservations may still make (each stands for 2 update() calls): the temps to keep. */
  private credits = 0;
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
      this.credits += WRITES_PER_RESERVATION;
      try {
        this.lock ??= await prepareLockFile(this.fileName('lock'), this.host(), this.fs);
        await this.fill(this.credits);
      } catch (err) {
        this.open -= 1;
        this.credits -= WRITES_PER_RESERVATION;
        await this.shrink();
        // One message for whichever file did not fit: the errno decides it (disk full, quota, read-only...).
        const cause = err instanceof StoreWriteError && err.cause !== undefined ? err.cause : err;
        throw writeFailure(this.storePath, cause, 'reserving room for the save');
      }
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await this.exclusive(async () => {
            // releaseAll() (the store closed) may have come first.
            this.open = Math.max(0, this.open - 1);
            this.credits = Math.min(this.credits, WRITES_PER_RESERVATION * this.open);
            await this.shrink();
          });
        },
      };
    });
  }

  /**
   * One update() call of this process: it uses one of the writes an open reservation stands for. Counted
   * per call, not per write: calls that group commit batches together share one temp, so 32 markers written
   * in 3 batches leave 32 saves to reserve for, not 61.
   */
  noteUpdate(): void {
    if (this.open > 0) this.credits = Math.max(0, this.credits - 1);
  }

  /** The pre-written store lock, while a reservation is open. */
  preparedLock(): PreparedLock | undefined {
    return this.open > 0 ? this.lock : undefined;
  }

  /** A reserved temp for one write, or undefined (none open: the writer creates its own temp). */
  take(): Promise<ReservedTemp | undefined> {
    return this.exclusive(async () => (this.open > 0 ? this.temps.pop() : undefined));
  }

  /** After a write: `temp` back if it was not renamed (the retry reuses it); the pool topped up, best effort. */
  afterWrite(temp: ReservedTemp | undefined, renamed: boolean): Promise<void> {
    return this.exclusive(async () => {
      if (temp && !renamed) this.temps.push(temp);
      if (this.open === 0) return this.shrink();
      await this.fill(this.credits).catch(() => undefined);
    });
  }

  /**
   * Allocates until `count` temps exist, each big enough for the next write; throws on the first failure.
   * A temp is grown only once the store has eaten into its margin (below half of it): regrowing every temp
   * after every commit cost 5,000 extra syncs in a 1,000-user `refresh --all`.
   */
  private async fill(count: number): Promise<void> {
    const size = await this.fs.lstat(this.storePath).then((s) => s.size, () => 0);
    const need = size + Math.ceil(size / 4) + MARGIN_BYTES + GROWTH_PER_RESERVATION * this.open;
    const enough = size + Math.ceil(size / 8) + MARGIN_BYTES / 2 + GROWTH_PER_RESERVATION * this.open;
    for (const t of this.temps) if (t.size < enough) await grow(t, need);
    while (this.temps.length < count) {
      const path = this.fileName('tmp');
      const fh = await this.fs.open(path, CREATE_EXCLUSIVE, 0o600);
      const temp: ReservedTemp = { path, fh, size: 0 };
      this.temps.push(temp);
      await fh.chmod(0o600);
      await grow(temp, need);
    }
  }

  /**
   * Removes everything once no reservation is open. While one is, unused temps stay for the next
   * reservation: `refresh --all` releases and reserves once per user, and removing and re-allocating two
   * store-sized files each time was most of its cost.
   */
  private async shrink(): Promise<void> {
    if (this.open > 0) return;
    while (this.temps.length > 0) {
      const t = this.temps.pop()!;
      await t.fh.close().catch(() => {});
      await this.fs.unlink(t.path).catch(() => {});
    }
    if (this.open === 0 && this.lock) {
      await this.fs.unlink(this.lock.path).catch(() => {});
      this.lock = undefined;
    }
  }

  /** Removes what every open reservation holds (the store is closing). */
  async releaseAll(): Promise<void> {
    await this.exclusive(async () => {
      this.open = 0;
      this.credits = 0;
      await this.shrink();
    });
  }

  private tag: string | undefined;
  private async loadTag(): Promise<string> {
    const h = this.host();
    return (this.tag ??= await ownTag(h.hostname, h.pid));
  }

  private fileName(kind: 'tmp' | 'lock'): string {
    return join(dirname(this.storePath), `${reservePrefix(this.storePath)}${this.tag!}-${randomBytes(6).toString('hex')}${kind === 'lock' ? '-lock' : ''}${RESERVE_SUFFIX}`);
  }

  /**
   * Reservations of processes of this host and PID namespace that are gone (pid dead, or reused: another
   * start time). Another host's or namespace's are left alone: we cannot see its processes (as for locks).
   */
  async removeOrphans(): Promise<void> {
    const self = await this.loadTag();
    const prefix = reservePrefix(this.storePath);
    const names = await this.fs.readdir(dirname(this.storePath)).catch(() => [] as string[]);
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

/**
 * Writes real bytes from `t.size` up to `size`: the space is taken at write() time (tmpfs allocates the
 * pages, ext4 and XFS reserve delayed-allocation blocks then and fail the write with ENOSPC, not a later
 * writeback). No fdatasync: it would not allocate more, and flushing two store-sized files of junk to disk
 * made every refresh of a 10,000-user store pay twice its size in disk writes. Junk pages that are
 * overwritten, truncated or unlinked before writeback never reach the disk.
 */
async function grow(t: ReservedTemp, size: number): Promise<void> {
  const fill = (fillBytes ??= randomBytes(65536));
  while (t.size < size) {
    const n = Math.min(fill.length, size - t.size);
    const { bytesWritten } = await t.fh.write(fill, 0, n, t.size);
    if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing the reservation'), { code: 'ENOSPC' });
    t.size += bytesWritten;
  }
}
