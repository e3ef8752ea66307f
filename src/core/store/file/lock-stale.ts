/**
 * When a busy lock file may be removed (lock-file.ts): its holder is gone. Never by the lock's age (see
 * lock-file.ts); a holder on another host or in another PID namespace is never judged stale (issue 15 review
 * finding 6), and a lock whose content is not readable yet is aged by our own monotonic observation (7b).
 */
import type { AcquireOptions, LockOwner, SeenLock } from './lock-types.js';
import { readProcStat } from './proc-info.js';

/**
 * A lock file whose content never became readable can only come from a process killed between its O_EXCL
 * create and its write (microseconds apart). Once WE have seen the same file unreadable for this long, on a
 * monotonic clock, it is treated as stale. Not by its mtime: wall clock minus mtime jumps with a clock step,
 * which could steal a lock in its create-to-write window (issue 15 review finding 7b).
 */
const UNREADABLE_LOCK_STALE_MS = 5_000;

/** The holder recorded a PID namespace and it is not ours (or ours is unknown): its pid means nothing here. */
export function otherNamespace(owner: LockOwner, self: LockOwner): boolean {
  return owner.pidNs !== undefined && owner.pidNs !== self.pidNs;
}

/** How long this acquire has seen the very same unreadable lock file (inode, mtime, content), monotonic. */
export class UnreadableWatch {
  private key: string | undefined;
  private since = 0;
  constructor(private readonly clock: () => number) {}

  seenFor(seen: SeenLock): number {
    const key = `${seen.ino}:${seen.mtimeMs}:${seen.raw}`;
    const now = this.clock();
    if (key !== this.key) {
      this.key = key;
      this.since = now;
    }
    return now - this.since;
  }
}

export async function isStale(
  seen: SeenLock,
  self: LockOwner,
  opts: AcquireOptions,
  unreadable: UnreadableWatch,
): Promise<boolean> {
  const owner = seen.owner;
  if (!owner) return unreadable.seenFor(seen) >= UNREADABLE_LOCK_STALE_MS;
  // Another machine (a shared folder): we cannot see its processes, so never steal (reliability.md F12/F23).
  if (owner.host !== self.host) return false;
  // Same host name, another boot: the holder died with the previous boot.
  if (owner.bootId && self.bootId && owner.bootId !== self.bootId) return true;
  // Same boot, another PID namespace (a container sharing the host name and boot id): its pid names another
  // process here, so liveness cannot be judged: never steal, as for another host.
  if (otherNamespace(owner, self)) return false;
  if (!opts.host.isPidAlive(owner.pid)) return true;
  const stat = await readProcStat(owner.pid);
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return true;
  // Alive, but a different process that reused the pid.
  if (stat && owner.procStart && stat.start !== owner.procStart) return true;
  return false;
}
