/**
 * The durable write of issue 3 / reliability.md section 6: temp file in the same folder created with
 * O_EXCL|O_NOFOLLOW and mode 0600, every byte written (filehandle.writeFile loops) and the size checked
 * (write-file-atomic published a truncated store on a full disk: reliability.md E1), fsync, one rename over
 * the old file (readers never see a missing or half file: E5), fsync of the folder (F7).
 *
 * Any failure before the rename leaves the old store byte-identical and removes the temp. A failed folder
 * fsync after the rename is NOT rolled back (the new file is already what every reader sees, and it may hold a
 * rotated refresh token that is the only valid one): it is reported through onWarning as "saved, durability
 * unknown" and the write resolves.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StoreWriteError } from '../../../errors.js';
import { CREATE_EXCLUSIVE, errnoCode, type StoreFile, type StoreFs } from './fs-layer.js';

export interface AtomicWriteOptions {
  fs: StoreFs;
  onWarning(line: string): void;
  /** Test hook: the random part of the temp name (to plant a symlink there); the name is then untagged. */
  randomId?: () => string;
  /** This process's owner-tag.ts tag, leading the temp name so that no cleanup removes it while we live. */
  ownerTag?: string | undefined;
}

export const TEMP_SUFFIX = '.tmp';

/** A temp file allocated ahead of the write (write-reserve.ts), open until it is renamed or removed. */
export interface ReservedTemp {
  readonly path: string;
  readonly fh: StoreFile;
  /** Bytes allocated (written). */
  size: number;
}

export function tempPrefix(storePath: string): string {
  return `.${basename(storePath)}.`;
}

/** Maps an errno from a failed save into an error that names the file and says what to do. */
export function writeFailure(path: string, err: unknown, step: string): StoreWriteError {
  const dir = dirname(path);
  const code = errnoCode(err);
  const base = `cannot save token store ${path}`;
  const opts = { cause: err, details: { errno: code, step } };
  switch (code) {
    case 'ENOSPC':
      return new StoreWriteError('E_STORE_DISK_FULL', path, `${base}: disk full: free space on ${dir}`, {
        ...opts,
        hint: 'the old store was kept unchanged; free some space and run the command again',
      });
    case 'EDQUOT':
      return new StoreWriteError('E_STORE_DISK_FULL', path, `${base}: disk quota exceeded: free space on ${dir}`, opts);
    case 'EACCES':
    case 'EPERM':
      return new StoreWriteError('E_STORE_NOT_WRITABLE', path, `${base}: permission denied in ${dir}`, opts);
    case 'EROFS':
      return new StoreWriteError('E_STORE_NOT_WRITABLE', path, `${base}: ${dir} is on a read-only file system`, opts);
    case 'EEXIST':
    case 'ELOOP':
      return new StoreWriteError(
        'E_STORE_UNSAFE_TEMP',
        path,
        `${base}: something already exists at the temp path in ${dir} (not writing through it)`,
        opts,
      );
    default:
      return new StoreWriteError('E_STORE_WRITE', path, `${base}: ${step} failed (${code ?? 'error'})`, {
        ...opts,
        hint: 'the old store was kept unchanged',
      });
  }
}

export async function writeStoreAtomic(path: string, data: Buffer, opts: AtomicWriteOptions): Promise<void> {
  const dir = dirname(path);
  const id = opts.randomId ? opts.randomId() : `${opts.ownerTag ? `${opts.ownerTag}-` : ''}${defaultRandomId()}`;
  const tmp = join(dir, `${tempPrefix(path)}${id}${TEMP_SUFFIX}`);
  const fs = opts.fs;
  let fh;
  try {
    fh = await fs.open(tmp, CREATE_EXCLUSIVE, 0o600);
  } catch (err) {
    throw writeFailure(path, err, 'creating the temp file');
  }
  const at = { step: 'writing the temp file' };
  try {
    // Explicit chmod: the create mode is filtered by the umask, and we want exactly 0600 (F18).
    await fh.chmod(0o600);
    await fh.writeFile(data);
    await checkAndSync(fh, data.length, at);
    at.step = 'closing the temp file';
    const closing = fh;
    fh = undefined;
    await closing.close();
    at.step = 'renaming the temp file over the store';
    await fs.rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    throw writeFailure(path, err, at.step);
  }
  await syncFolder(path, opts);
}

/**
 * The same durable write into a temp reserved ahead (write-reserve.ts): overwrite from offset 0, truncate to
 * the data's length, size check, fsync, rename, fsync of the folder. No step needs a new block as long as
 * the data fits the reservation. Failing before the rename, the old store is untouched and the temp stays
 * open for the caller to reuse (every byte is written again then); resolves once renamed. `chunks` are the
 * file's bytes in order (a splice commit's pieces, record-layout.ts), each written where it falls.
 */
export async function writeStoreIntoReserved(
  path: string,
  chunks: readonly Buffer[],
  temp: ReservedTemp,
  opts: AtomicWriteOptions,
): Promise<void> {
  const fh = temp.fh;
  const at = { step: 'writing the temp file' };
  let length = 0;
  try {
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.length;) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, length + off);
        if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing the temp file'), { code: 'ENOSPC' });
        off += bytesWritten;
      }
      length += chunk.length;
    }
    await fh.truncate(length);
    temp.size = Math.min(temp.size, length);
    await checkAndSync(fh, length, at);
    at.step = 'renaming the temp file over the store';
    await opts.fs.rename(temp.path, path);
  } catch (err) {
    throw writeFailure(path, err, at.step);
  }
  await fh.close().catch(() => {});
  await syncFolder(path, opts);
}

/** Size check (a short write is ENOSPC: the old store stays) and fsync of a written temp; `at` names the step. */
async function checkAndSync(
  fh: { stat(): Promise<{ size: number }>; sync(): Promise<void> },
  length: number,
  at: { step: string },
): Promise<void> {
  at.step = 'checking the temp file size';
  const st = await fh.stat();
  if (st.size !== length)
    throw Object.assign(new Error(`short write: ${st.size} of ${length} bytes`), { code: 'ENOSPC' });
  at.step = 'fsync of the temp file';
  await fh.sync();
}

async function syncFolder(path: string, opts: AtomicWriteOptions): Promise<void> {
  const dir = dirname(path);
  try {
    await opts.fs.fsyncDir(dir);
  } catch (err) {
    opts.onWarning(
      `saved ${path}, durability unknown: fsync of the folder ${dir} failed (${errnoCode(err) ?? 'error'}); a power loss now could undo this save`,
    );
  }
}

function defaultRandomId(): string {
  return randomBytes(8).toString('hex');
}
