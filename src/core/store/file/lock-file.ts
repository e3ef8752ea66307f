/**
 * A small cross-process lock file (why not a library: ARCHITECTURE.md "Token store locks").
 *
 * Acquire = create the lock path with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, holding JSON
 * {pid, host, bootId, procStart, pidNs, nonce}. A busy lock is judged by whether its holder is alive, never by
 * its age (proper-lockfile #121: age-stealing gives two holders while the first is still inside its HTTP call):
 * stale = same host and (other boot, or, in the same PID namespace, pid gone / zombie, or pid reused with
 * another start time). A holder in another (or an unknown) PID namespace is treated like one on another host:
 * never stolen (issue 15 review finding 6). A lock without pidNs was written by an older box-qc on this host
 * and is judged as before. A stale
 * lock is removed under a kernel-released mutex after re-verifying it is the same file (inode, mtime,
 * content: reap-mutex.ts explains why); a lock on another host is never stolen. Waiting polls with 25-100 ms jitter up to waitMs, then
 * StoreBusyError (exit 75): the caller never proceeds without the lock. No timers run while the lock is held.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreBusyError, StoreError, StoreWriteError } from '../../../errors.js';
import { CREATE_EXCLUSIVE, READ_NOFOLLOW, errnoCode, type StoreFs } from './fs-layer.js';
import { LOCK_MAX_BYTES, checkLockStat, unsafeLock } from './lock-checks.js';
import { readBootId, readPidNamespace, readProcStat } from './proc-info.js';
import { UnreadableWatch, isStale, otherNamespace } from './lock-stale.js';
import { takeReapMutex } from './reap-mutex.js';
import type { AcquireOptions, HeldLock, LockHost, LockOwner, PreparedLock, SeenLock } from './lock-types.js';

export type { AcquireOptions, HeldLock, LockHost, LockOwner, PreparedLock, SeenLock } from './lock-types.js';

/** Our own start time never changes: read /proc once per process, not once per lock (issue 8, fan-out). */
const ownStarts = new Map<number, Promise<string | undefined>>();
function ownStart(pid: number): Promise<string | undefined> {
  let start = ownStarts.get(pid);
  if (start === undefined) ownStarts.set(pid, (start = readProcStat(pid).then((s) => s?.start)));
  return start;
}

async function lockOwner(host: LockHost): Promise<LockOwner> {
  return {
    pid: host.pid,
    host: host.hostname,
    bootId: await readBootId(),
    procStart: await ownStart(host.pid),
    pidNs: await readPidNamespace(),
    nonce: randomBytes(16).toString('hex'),
  };
}

/**
 * Writes a lock file's content ahead of time at `path` (O_EXCL, 0600: its block is taken by the write).
 * Fails (StoreWriteError) when there is no room; then nothing is left behind.
 */
export async function prepareLockFile(path: string, host: LockHost, fs: StoreFs): Promise<PreparedLock> {
  const owner = await lockOwner(host);
  await writeLockFile(path, owner, fs, true);
  return { path, owner };
}

export async function acquireLock(path: string, opts: AcquireOptions): Promise<HeldLock> {
  const self = opts.prepared?.owner ?? (await lockOwner(opts.host));
  const started = performance.now();
  const unreadable = new UnreadableWatch(opts.monotonicNow ?? (() => performance.now()));
  let waiting = false;
  const linkable = { ok: true };
  // Quick retries in a row (the lock vanished or a stale one was removed) and the last live holder seen.
  let quickRetries = 0;
  let lastLive: LockOwner | undefined;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await tryCreate(path, self, opts, linkable)) return heldLock(path, self.nonce, opts);
    const seen = await inspectLock(path, opts.fs, opts.euid);
    // Released between our create and our read, or a stale one removed: try again at once, as before. Direct
    // file calls (fs-layer.ts) settle at once, so a lock that others keep taking and releasing could spin this
    // loop with no turn of the event loop (no timer, no signal handler, no deadline): each retry yields a
    // turn, and past QUICK_RETRIES in a row the retries sleep a little and count against the wait.
    if (
      seen === undefined ||
      ((await isStale(seen, self, opts, unreadable)) && (await removeStale(path, seen, opts.fs, opts.euid)))
    ) {
      quickRetries += 1;
      if (quickRetries > QUICK_RETRIES) {
        if (performance.now() - started >= opts.waitMs) throw busyError(path, lastLive, self);
        await pause(1 + Math.floor(Math.random() * 4), opts.signal);
      } else {
        await nextTurn();
      }
      continue;
    }
    quickRetries = 0;
    lastLive = seen.owner;
    if (!waiting) {
      waiting = true;
      opts.onWait?.({ pid: seen.owner?.pid, host: seen.owner?.host });
    }
    if (performance.now() - started >= opts.waitMs) throw busyError(path, seen.owner, self);
    await pause(25 + Math.floor(Math.random() * 75), opts.signal);
  }
}

/** Quick retries in a row before they count against the wait (lock-file.ts acquireLock). */
const QUICK_RETRIES = 3;

/** One turn of the event loop: timers and signal handlers run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Jittered poll delay (not security-relevant randomness); an abort surfaces as the signal's own reason. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}

function busyError(path: string, owner: LockOwner | undefined, self: LockOwner): StoreBusyError {
  const where = !owner
    ? ''
    : owner.host !== self.host
      ? ` on host ${owner.host}`
      : otherNamespace(owner, self)
        ? ' in another PID namespace (a container?)'
        : '';
  const holder = owner ? `pid ${owner.pid}${where}` : 'an unknown process';
  // A holder we cannot see is never judged dead: if it is gone for good, only the operator can tell.
  const hint =
    where === ''
      ? 'another box-qc is using this store; nothing was lost, try again later'
      : `another box-qc is using this store; nothing was lost, try again later (if no box-qc runs there any more, remove ${path})`;
  return new StoreBusyError(`store busy (held by ${holder}): lock ${path}`, {
    hint,
    details: { lock: path, pid: owner?.pid, host: owner?.host },
  });
}

async function tryCreate(
  path: string,
  self: LockOwner,
  opts: AcquireOptions,
  linkable: { ok: boolean },
): Promise<boolean> {
  if (opts.prepared && linkable.ok) {
    try {
      // link(2) fails with EEXIST on any existing path, a planted symlink included, exactly as O_EXCL does.
      await opts.fs.link(opts.prepared.path, path);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ESTALE') throw lockWriteError(path, err);
      // The prepared file is gone (a cleanup removed it): the normal create, which fails only on its own.
      linkable.ok = false;
      // Awaited: the caller frees reserved room for the lock file the create below needs (a full disk).
      await opts.onPreparedFailed?.();
    }
  }
  return writeLockFile(path, self, opts.fs, false);
}

/** O_EXCL create + content; false when the path exists (an error instead when `ahead`: a name of our own). */
async function writeLockFile(path: string, owner: LockOwner, fs: StoreFs, ahead: boolean): Promise<boolean> {
  let fh;
  try {
    fh = await fs.open(path, CREATE_EXCLUSIVE, 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && !ahead) return false;
    throw lockWriteError(path, err);
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(JSON.stringify(owner));
    await fh.close();
    return true;
  } catch (err) {
    await fh.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
    throw lockWriteError(path, err);
  }
}

function lockWriteError(path: string, err: unknown): StoreWriteError {
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StoreWriteError(
      'E_STORE_DISK_FULL',
      path,
      `cannot create lock file ${path}: disk full: free space on its folder`,
      { cause: err },
    );
  }
  return new StoreWriteError('E_STORE_LOCK', path, `cannot create lock file ${path} (${code ?? 'error'})`, {
    cause: err,
  });
}

async function inspectLock(path: string, fs: StoreFs, euid: number | undefined): Promise<SeenLock | undefined> {
  let fh;
  try {
    fh = await fs.open(path, READ_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (errnoCode(err) === 'ELOOP') throw unsafeLock(path, 'is a symbolic link');
    throw new StoreError('E_STORE_LOCK', path, `lock file ${path} cannot be read (${errnoCode(err) ?? 'error'})`);
  }
  try {
    const st = await fh.stat();
    checkLockStat(path, st, euid);
    // Bounded even if the file grows after the fstat: one read of at most LOCK_MAX_BYTES + 1.
    const buf = Buffer.alloc(LOCK_MAX_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > LOCK_MAX_BYTES)
      throw unsafeLock(path, `is larger than any lock box-qc writes (over ${LOCK_MAX_BYTES} bytes)`);
    const raw = buf.subarray(0, bytesRead).toString('utf8');
    return { owner: parseOwner(raw), ino: st.ino, mtimeMs: st.mtimeMs, raw };
  } finally {
    await fh.close().catch(() => {});
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (
      typeof v.pid === 'number' &&
      Number.isSafeInteger(v.pid) &&
      v.pid > 0 &&
      typeof v.host === 'string' &&
      typeof v.nonce === 'string'
    ) {
      return {
        pid: v.pid,
        host: v.host,
        nonce: v.nonce,
        bootId: typeof v.bootId === 'string' ? v.bootId : undefined,
        procStart: typeof v.procStart === 'string' ? v.procStart : undefined,
        pidNs: typeof v.pidNs === 'string' ? v.pidNs : undefined,
      };
    }
  } catch {
    // falls through: unreadable content
  }
  return undefined;
}

/**
 * Removes a lock judged stale, under the reap mutex: re-read it there and unlink only if it is still the very
 * lock we judged (inode, mtime, content with its nonce). Its holder is dead, so only a remover could touch it,
 * and removers are serialised. Returns false when another process is removing it (the caller waits a poll).
 */
async function removeStale(path: string, seen: SeenLock, fs: StoreFs, euid: number | undefined): Promise<boolean> {
  const mutex = await takeReapMutex(path);
  if (mutex === 'busy') return false;
  try {
    const now = await inspectLock(path, fs, euid);
    const same = now !== undefined && now.ino === seen.ino && now.mtimeMs === seen.mtimeMs && now.raw === seen.raw;
    if (same) {
      await fs.unlink(path).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT')
          throw new StoreError(
            'E_STORE_LOCK',
            path,
            `cannot remove stale lock file ${path} (${errnoCode(err) ?? 'error'})`,
          );
      });
    }
    return true;
  } finally {
    mutex.release();
  }
}

function heldLock(path: string, nonce: string, opts: AcquireOptions): HeldLock {
  let released = false;
  return {
    path,
    nonce,
    async release() {
      if (released) return;
      released = true;
      // Release only our own nonce: never remove a lock someone else holds now.
      const seen = await inspectLock(path, opts.fs, opts.euid).catch(() => undefined);
      if (seen?.owner?.nonce === nonce) await opts.fs.unlink(path).catch(() => {});
    },
  };
}
