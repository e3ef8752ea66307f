/**
 * Opening the store file safely (reliability.md section 6 "Reads", F16, F18, F19): open with O_NOFOLLOW and
 * judge the opened descriptor with fstat (no check-then-open race, as OpenSSH key_perm_ok and safe_path_fd
 * do): not a regular file or not owned by us -> refuse (exit 2); readable/writable by group or others ->
 * tighten to 0600 and warn, once the content validated (tightenMode). ENOENT is the one
 * "no users" case; every other failure is a StoreError naming the path, and the file is never written.
 */
import { StoreError } from '../../../errors.js';
import {
  emptyDocument,
  parseStoreBytes,
  parseStoreJson,
  sliceUser,
  sliceValidated,
  validateDocument,
} from '../format.js';
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

/** A one-user read (readUser): whose slice, and whether the document is validated whole (ReadUserOptions). */
export interface OneUser {
  email: string;
  whole: boolean;
}

/**
 * A commit's re-read (file-store.ts): the document validated whole, as the cache keeps it, frozen or not. Only
 * for applyBatch with freezeOnRead, which never changes it: never to be handed out.
 */
export const FOR_COMMIT = 'commit';

/**
 * The store read and checked. With `oneUser`, that user's slice: the whole file is parsed; validated whole
 * unless the read is display-only, which validates that user's record and the top level only (issue 20:
 * `status --email` of a 10,000-user store spent a fifth of its time validating the others).
 */
export async function readStoreFile(
  path: string,
  ctx: ReadContext,
  oneUser?: OneUser | typeof FOR_COMMIT,
): Promise<StoreSnapshot> {
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
    // A store to tighten is validated whole first: a file that fails is never modified (issue 15 item 9).
    const mustTighten = (st.mode & 0o077) !== 0;
    const doc =
      oneUser === undefined
        ? wholeDocument(bytes, path, ctx.cache)
        : oneUser === FOR_COMMIT
          ? validatedDocument(bytes, path, ctx.cache)
          : oneUser.whole || mustTighten
            ? sliceValidated(validatedDocument(bytes, path, ctx.cache), oneUser.email)
            : displaySlice(bytes, path, oneUser.email, ctx.cache);
    // Whole documents only: that is what the encryption wrapper's keyless check looks at (crypto-store.ts).
    if (oneUser === undefined) notePlaintextBytes(doc, bytes);
    // Only now, on a file that validated as our store: a file that fails is never modified (issue 15 item 9).
    await tightenMode(fh, st, path, ctx);
    return { doc, exists: true, bytes };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** What a whole read hands out: the cached frozen document, or a parse (parsed-cache.ts says which to keep). */
function wholeDocument(bytes: Buffer, path: string, cache: ParsedCache | undefined): StoreDocument {
  const cached = cache?.get(bytes);
  if (cached !== undefined) return cached;
  const raw = cache?.raw(bytes);
  const doc = raw === undefined ? parseStoreBytes(bytes, path) : validateDocument(raw, path);
  return cache ? cache.parsed(bytes, doc) : doc;
}

/** The document validated whole, for one-user slices only: kept unfrozen in the cache until a whole read. */
function validatedDocument(bytes: Buffer, path: string, cache: ParsedCache | undefined): StoreDocument {
  const known = cache?.validated(bytes);
  if (known !== undefined) return known;
  const doc = validateDocument(cache?.raw(bytes) ?? parseStoreJson(bytes, path), path);
  cache?.keepValid(bytes, doc);
  return doc;
}

/** A display-only slice: the file parsed, only this user's record (and the top level, every key) validated. */
function displaySlice(bytes: Buffer, path: string, email: string, cache: ParsedCache | undefined): StoreDocument {
  const known = cache?.validated(bytes);
  if (known !== undefined) return sliceValidated(known, email);
  const raw = cache?.raw(bytes) ?? parseStoreJson(bytes, path);
  const slice = sliceUser(raw, email, path);
  cache?.keepRaw(bytes, raw);
  return slice;
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
