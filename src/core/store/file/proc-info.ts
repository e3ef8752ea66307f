/**
 * Linux process identity for lock liveness (reliability.md F12, tox-dev/filelock #476, ruflo #3363): a pid
 * alone is not an identity (pids are reused), so a lock records the boot id and the process start time
 * (/proc/<pid>/stat field 22, in clock ticks since boot). Elsewhere these read as undefined and the lock falls
 * back to "pid alive" alone.
 */
// Synchronous calls: these files are made by the kernel on the spot, never waiting on a disk, and
// node:fs/promises (with the readline and stream modules it loads) cost every refresh ~1.5 ms to load (issue 20).
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), ... */
  state: string;
  /** Field 22: start time in clock ticks since boot, as a decimal string. */
  start: string;
}

let bootIdPromise: Promise<string | undefined> | undefined;

export function readBootId(): Promise<string | undefined> {
  bootIdPromise ??= attempt(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined);
  return bootIdPromise;
}

let pidNsPromise: Promise<string | undefined> | undefined;

/**
 * This process's PID namespace, e.g. `pid:[4026531836]` (issue 15 review finding 6). A container run with
 * `--network host` shares the host name and the boot id but not the pid numbering: a pid recorded there names
 * another process (or none) here, so a lock from another namespace can be judged no better than one from
 * another host.
 */
export function readPidNamespace(): Promise<string | undefined> {
  pidNsPromise ??= attempt(() => {
    const s = readlinkSync('/proc/self/ns/pid');
    return /^pid:\[\d+\]$/.test(s) ? s : undefined;
  });
  return pidNsPromise;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and ')', so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  const state = rest[0];
  const start = rest[19];
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
  return { state, start };
}

export function readProcStat(pid: number): Promise<ProcStat | undefined> {
  return attempt(() => parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')));
}

/** `read()`'s answer as a promise, undefined when it throws (no such file: not Linux, or the process is gone). */
function attempt<T>(read: () => T | undefined): Promise<T | undefined> {
  try {
    return Promise.resolve(read());
  } catch {
    return Promise.resolve(undefined);
  }
}
