/**
 * Where the key text comes from (issue 19): BOX_QC_KEY_FILE, a file that must be a regular file, 0600 or
 * stricter (no group or other bits) and owned by the effective uid, or BOX_QC_KEY, the same text in the
 * environment for secret managers that inject variables. Both set is refused (two sources of truth would let
 * a stale one win silently). An empty variable counts as unset, as every box-qc variable does. Read
 * synchronously when the store is opened: a few hundred bytes, and a wrong key set-up fails every command
 * at once, before anything is read from or sent to Box.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { keyConfigError } from './errors.js';
import { parseKeyring, type Keyring } from './keyring.js';

const MAX_KEY_FILE_BYTES = 64 * 1024;

export function loadKeyring(env: Record<string, string | undefined>, euid: number | undefined): Keyring | undefined {
  const file = nonEmpty(env.BOX_QC_KEY_FILE);
  const text = nonEmpty(env.BOX_QC_KEY);
  if (file !== undefined && text !== undefined) {
    throw keyConfigError('BOX_QC_KEY_FILE and BOX_QC_KEY are both set: set only one');
  }
  if (text !== undefined) return parseKeyring(text, 'BOX_QC_KEY');
  if (file !== undefined) return parseKeyring(readKeyFile(file, euid), 'BOX_QC_KEY_FILE');
  return undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

/**
 * Key text put into BOX_QC_KEY_FILE by mistake (the two variables swapped): it must never be echoed as a
 * "path" into a message, JSON, cron mail or a log (review of issue 19, finding 2).
 */
function looksLikeKeyText(value: string): boolean {
  return /[A-Za-z0-9+/]{40,}={0,2}/.test(value) || /^[^/\s]*:[A-Za-z0-9+/=_-]{16,}/.test(value.trim());
}

/** The file's text after the checks; its path is the operator's own, so it may be named. */
function readKeyFile(path: string, euid: number | undefined): string {
  if (looksLikeKeyText(path)) {
    throw keyConfigError('BOX_QC_KEY_FILE holds key text, not a path (did you mean BOX_QC_KEY?)');
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw keyConfigError(`BOX_QC_KEY_FILE ${path} cannot be read (${code})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw keyConfigError(`BOX_QC_KEY_FILE ${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw keyConfigError(
        `BOX_QC_KEY_FILE ${path} is readable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`,
        `chmod 600 ${path}`,
      );
    }
    if (euid !== undefined && st.uid !== euid) {
      throw keyConfigError(`BOX_QC_KEY_FILE ${path} is owned by uid ${st.uid}, not by this user (uid ${euid})`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw keyConfigError(`BOX_QC_KEY_FILE ${path} is too large for a key file`);
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_KEY_FILE_BYTES) throw keyConfigError(`BOX_QC_KEY_FILE ${path} is too large for a key file`);
    }
    const text = buf.toString('utf8', 0, n);
    buf.fill(0);
    return text;
  } finally {
    closeSync(fd);
  }
}
