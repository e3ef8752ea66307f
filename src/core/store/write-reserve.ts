/**
 * Room for the saves of refreshes in flight, taken before their POST (issue 15 item 4). A disk that fills
 * while Box is rotating a refresh token must not stop the save of the new pair: that is a lost user. So
 * reserveWrite() allocates, while there is still room, everything a save needs:
 *
 *  - the store lock's content, written to a file of its own: taking the lock is then link(2), which needs
 *    no data block (creating and writing a fresh lock file needs one: the ENOSPC of the issue);
 *  - temp files of the store's size plus a margin, written with real bytes and fdatasync'ed, so their blocks
 *    are allocated (tmpfs counts pages, ext4's delayed allocation counts at write time). A save overwrites
 *    one from offset 0, truncates it to its length, fsyncs and renames it over the store (atomic-write.ts).
 *
 * How many temps: every write consumes one, and a replacement allocated after a write may find the disk full
 * already (any free-then-allocate can lose the freed space to another writer). Each reservation stands for at
 * most two writes of this process (the in-flight marker before the POST, the save after it) and a batch of
 * group commit is one write, so 2 temps per open reservation are always enough; after each write the pool is
 * topped up again, best effort. A write that fails before its rename gives its temp back for the retry.
 * Margin: a batch may add a marker to every user (~200 bytes each, a quarter of a record), so S/4 + 4 KiB.
 * On copy-on-write file systems (btrfs, ZFS) an overwrite allocates anew and this guarantee does not hold.
 *
 * Files are named `.<store>.rsv-<host>-<pid>-<start>-<random>[-lock].reserve`: not `.tmp`, which the writer
 * removes as orphans; a reservation of a process that died (same host, pid gone or reused) is removed by the
 * next reservation or write. release() of the last open reservation removes every file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StoreWriteError } from '../../errors.js';
import { writeFailure, type ReservedTemp } from './atomic-write.js';
import { CREATE_EXCLUSIVE, type StoreFs } from './fs-layer.js';
import { prepareLockFile, type LockHost, type PreparedLock } from './lock-file.js';
import { readProcStat } from './proc-info.js';
import type { WriteReservation } from './types.js';

const RESERVE_SUFFIX = '.reserve';
const MARGIN_BYTES = 4096;
const WRITES_PER_RESERVATION = 2;
const FILL = randomBytes(65536);

export class WriteReserve {
  private readonly temps: ReservedTemp[] = [];
  private lock: PreparedLock | undefined;
  private open = 0;
  /** Temps the open reservations may still need. */
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
      await loadOwnStartTag(this.host().pid);
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
            this.open -= 1;
            this.credits = Math.min(this.credits, WRITES_PER_RESERVATION * this.open);
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

  /** A reserved temp for one write, or undefined (none open: the writer creates its own temp). */
  take(): Promise<ReservedTemp | undefined> {
    return this.exclusive(async () => (this.open > 0 ? this.temps.pop() : undefined));
  }

  /** After a write: `temp` back if it was not renamed (the retry reuses it); the pool topped up, best effort. */
  afterWrite(temp: ReservedTemp | undefined, renamed: boolean): Promise<void> {
    return this.exclusive(async () => {
      if (temp && !renamed) this.temps.push(temp);
      if (temp && renamed) this.credits = Math.max(0, this.credits - 1);
      if (this.open === 0) return this.shrink();
      await this.fill(this.credits).catch(() => undefined);
    });
  }

  /** Allocates until `count` temps of the current target size exist; throws on the first failure. */
  private async fill(count: number): Promise<void> {
    const need = await this.targetSize();
    for (const t of this.temps) if (t.size < need) await grow(t, need);
    while (this.temps.length < count) {
      const path = this.fileName('tmp');
      const fh = await this.fs.open(path, CREATE_EXCLUSIVE, 0o600);
      const temp: ReservedTemp = { path, fh, size: 0 };
      this.temps.push(temp);
      await fh.chmod(0o600);
      await grow(temp, need);
    }
  }

  private async targetSize(): Promise<number> {
    const size = await this.fs.lstat(this.storePath).then((s) => s.size, () => 0);
    return size + Math.ceil(size / 4) + MARGIN_BYTES;
  }

  /** Removes the temps beyond what the open reservations may need, and everything when none is open. */
  private async shrink(): Promise<void> {
    const keep = this.open === 0 ? 0 : this.credits;
    while (this.temps.length > keep) {
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

  private fileName(kind: 'tmp' | 'lock'): string {
    const h = this.host();
    return join(dirname(this.storePath), `${reservePrefix(this.storePath, h.hostname)}${h.pid}-${ownStartTag.value ?? 'x'}-${randomBytes(6).toString('hex')}${kind === 'lock' ? '-lock' : ''}${RESERVE_SUFFIX}`);
  }

  /**
   * Reservations of processes of this host that are gone (pid dead, or reused: another start time). Another
   * host's are left alone: we cannot see its processes (as for lock files).
   */
  async removeOrphans(): Promise<void> {
    const h = this.host();
    const prefix = reservePrefix(this.storePath, h.hostname);
    const names = await this.fs.readdir(dirname(this.storePath)).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(RESERVE_SUFFIX)) continue;
      const [pidText, start] = name.slice(prefix.length).split('-');
      const pid = Number(pidText);
      if (!Number.isSafeInteger(pid) || pid <= 0) continue;
      if (pid === h.pid && start === ownStartTag.value) continue;
      const stat = h.isPidAlive(pid) ? await readProcStat(pid) : undefined;
      const alive = stat !== undefined && stat.state !== 'Z' && stat.state !== 'X' && (start === 'x' || stat.start === start);
      if (!alive) await this.fs.unlink(join(dirname(this.storePath), name)).catch(() => {});
    }
  }
}

/** This process's start time, read once, for reservation names (a pid alone is reused). */
const ownStartTag: { value?: string } = {};
async function loadOwnStartTag(pid: number): Promise<void> {
  if (ownStartTag.value === undefined) ownStartTag.value = (await readProcStat(pid))?.start ?? 'x';
}

function reservePrefix(storePath: string, hostname: string): string {
  return `.${basename(storePath)}.rsv-${createHash('sha256').update(hostname).digest('hex').slice(0, 8)}-`;
}

/** Writes real bytes from `t.size` up to `size` and syncs them, so the blocks are allocated now. */
async function grow(t: ReservedTemp, size: number): Promise<void> {
  while (t.size < size) {
    const n = Math.min(FILL.length, size - t.size);
    const { bytesWritten } = await t.fh.write(FILL, 0, n, t.size);
    if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing the reservation'), { code: 'ENOSPC' });
    t.size += bytesWritten;
  }
  await t.fh.datasync();
}
