/**
 * What a lock file must be before box-qc trusts its content (issue 15 items 6 and 13): a regular file (never
 * followed), no bigger than any lock box-qc writes, owned by us or root. Judged from lstat (store-guard.ts,
 * before the first read) or fstat (lock-file.ts, on the opened lock).
 */
import type { Stats } from 'node:fs';
import { StoreError } from '../../../errors.js';

/**
 * box-qc's lock content is ~200 bytes. A bigger "lock" was not written by box-qc; reading it whole took
 * 763 MB of memory for a 700 MB file and threw past 2 GiB (issue 15 item 13).
 */
export const LOCK_MAX_BYTES = 4096;

export function unsafeLock(path: string, what: string): StoreError {
  return new StoreError('E_STORE_LOCK_UNSAFE', path, `lock file ${path} ${what}; refusing to use it`, {
    hint: 'remove it by hand after checking that nobody planted it on purpose',
  });
}

/**
 * What a lock file must be before its content is trusted: a regular file (not followed), small, owned by us
 * or root (a lock another user planted would stall every refresh: issue 15 item 6). From lstat or fstat.
 */
export function checkLockStat(path: string, st: Stats, euid: number | undefined): void {
  if (st.isSymbolicLink()) throw unsafeLock(path, 'is a symbolic link');
  if (!st.isFile()) throw unsafeLock(path, 'is not a regular file');
  if (st.size > LOCK_MAX_BYTES)
    throw unsafeLock(path, `is ${st.size} bytes, larger than any lock box-qc writes (${LOCK_MAX_BYTES} bytes at most)`);
  if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
    throw unsafeLock(path, `is owned by uid ${st.uid}, not by the current user (uid ${euid}) or root`);
  }
}
