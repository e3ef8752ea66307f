/**
 * Opening the store file safely (reliability.md section 6 "Reads", F16, F18, F19): open with O_NOFOLLOW and
 * judge the opened descriptor with fstat (no check-then-open race, as OpenSSH key_perm_ok and safe_path_fd
 * do): not a regular file or not owned by us -> refuse (exit 2); readable/writable by group or others ->
 * tighten to 0600 and warn, once the content validated (tightenMode). ENOENT is the one
 * "no users" case; every other failure is a StoreError naming the path, and the file is never written.
 */
import { StoreError } from '../../../errors.js';
import { emptyDocument, parseStoreBytes, parseStoreJson, sliceUser, validateDocument } from '../format.js';
import type { Stats } from 'node:fs';
import { READ_NOFOLLOW, errnoCode, type StoreFile, type StoreFs } from './fs-layer.js';
import type { ParsedCache } from './parsed-cache.js';
import { notePlaintextBytes } from '../crypto/envelope.js';
import type { StoreDocument } from '../types.js';

export interface ReadContext {
  fs: StoreFs;
  /** Effective uid, or undefined where the platform has none (ownership is then not checked). */
  euid: number | undefined;
  onWarning(line: string): void;
  /** Skips parsing and validating bytes identical to the last ones parsed (issue 8). */
  cache?: ParsedCache;
}

export interface StoreSnapshot {
  doc: StoreDocument;
  exists: boolean;
  /** The bytes read (empty when missing): lets update() skip a write that would change nothing. */
  bytes: Buffer;
}

function refuse(path: string, code: string, what: string, hint?: string): StoreError {
  return new StoreError(code, path, `token store ${path} ${what}`, hint === undefined ? {} : { hint });
}

function openFailure(path: string, err: unknown): StoreError {
  switch (errnoCode(err)) {
    case 'ELOOP':
      return refuse(
        path,
        'E_STORE_SYMLINK',
        'is a symbolic link; box-qc does not follow links for its token store',
        'point --store / BOX_QC_STORE at the real file',
      );
    case 'EACCES':
    case 'EPERM':
      return refuse(path, 'E_STORE_PERMISSION', 'cannot be opened: permission denied');
    case 'ENOTDIR':
      return refuse(path, 'E_STORE_NOT_FILE', 'cannot be opened: a parent of it is not a folder');
    default:
      return refuse(path, 'E_STORE_UNREADABLE', `cannot be opened (${errnoCode(err) ?? 'error'})`);
  }
}

/**
 * The store read and checked. With `onlyUser` (a normalised email), one user's slice (format.ts sliceUser):
 * the whole file is parsed, but of the records only that user's is validated (issue 20: `status --email` of
 * a 10,000-user store spent a fifth of its time validating the others).
 */
export async function readStoreFile(path: string, ctx: ReadContext, onlyUser?: string): Promise<StoreSnapshot> {
  let fh;
  try {
    fh = await ctx.fs.open(path, READ_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { doc: emptyDocument(), exists: false, bytes: Buffer.alloc(0) };
    throw openFailure(path, err);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw refuse(path, 'E_STORE_NOT_FILE', 'is a folder, not a file');
    if (!st.isFile()) throw refuse(path, 'E_STORE_NOT_FILE', 'is not a regular file');
    if (ctx.euid !== undefined && st.uid !== ctx.euid) {
      throw refuse(
        path,
        'E_STORE_OWNER',
        `is owned by uid ${st.uid}, not by the current user (uid ${ctx.euid}); refusing to use it`,
        'run box-qc as the user who owns the store, or fix its owner',
      );
    }
    let bytes: Buffer;
    try {
      bytes = await fh.readFile();
    } catch (err) {
      throw refuse(path, 'E_STORE_UNREADABLE', `cannot be read (${errnoCode(err) ?? 'error'})`);
    }
    let doc = ctx.cache?.get(bytes);
    if (doc !== undefined) {
      // Validated whole already, keys normalised: the slice is a lookup.
      if (onlyUser !== undefined) doc = sliceOfValid(doc, onlyUser);
    } else if (onlyUser !== undefined) {
      const raw = ctx.cache?.raw(bytes) ?? parseStoreJson(bytes, path);
      doc = sliceUser(raw, onlyUser, path);
      ctx.cache?.keepRaw(bytes, raw);
    } else {
      const raw = ctx.cache?.raw(bytes);
      doc = raw === undefined ? parseStoreBytes(bytes, path) : validateDocument(raw, path);
      ctx.cache?.parsed(bytes, doc);
    }
    // Whole documents only: that is what the encryption wrapper's keyless check looks at (crypto-store.ts).
    if (onlyUser === undefined) notePlaintextBytes(doc, bytes);
    // Only now, on a file that validated as our store: a file that fails is never modified (issue 15 item 9).
    await tightenMode(fh, st, path, ctx);
    return { doc, exists: true, bytes };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** One user's slice of a validated, frozen document (its pieces are frozen already). */
function sliceOfValid(doc: StoreDocument, email: string): StoreDocument {
  const record = Object.hasOwn(doc.users, email) ? doc.users[email] : undefined;
  return Object.freeze({ ...doc, users: Object.freeze(record === undefined ? {} : { [email]: record }) });
}

/**
 * A store readable by others is tightened to 0600 (the exposure already happened; refusing would only stop
 * cron). Not when the file has other hard links: the mode belongs to every name of it, and a backup tool's
 * hard link (rsnapshot, cp -al) or a planted one is not ours to change; a warning says so instead.
 */
async function tightenMode(fh: StoreFile, st: Stats, path: string, ctx: ReadContext): Promise<void> {
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return;
  if (st.nlink > 1) {
    ctx.onWarning(
      `token store ${path} is accessible by other users but has ${st.nlink} hard links; its mode ${octal(mode)} was left unchanged (remove the other links, then chmod 600 it)`,
    );
    return;
  }
  try {
    await fh.chmod(0o600);
  } catch (err) {
    throw refuse(
      path,
      'E_STORE_PERMISSION',
      `is accessible by other users (mode ${octal(mode)}) and could not be tightened (${errnoCode(err) ?? 'error'})`,
    );
  }
  ctx.onWarning(`token store ${path} was accessible by other users (mode ${octal(mode)}); tightened to 0600`);
}

export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
