/**
 * The store's folder: created 0700 explicitly (umask-independent, F18), checked for room before a save that
 * must not fail (a rotated refresh token that cannot be written is a lost user: F6), and described for
 * `status`.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StoreError, StoreWriteError } from '../../../errors.js';
import { writeFailure } from './atomic-write.js';
import { CREATE_EXCLUSIVE, errnoCode, type StoreFs } from './fs-layer.js';
import type { StoreFileInfo } from '../types.js';

/** statfs f_type of network file systems, where O_EXCL and rename locking are unreliable (F20). */
const NETWORK_FS: Record<number, string> = {
  0x6969: 'NFS',
  0x517b: 'SMB',
  0xff534d42: 'CIFS',
  0xfe534d42: 'SMB2',
};

/** Room for the temp copy next to the old file, with slack: 2x the current size + 64 KiB. */
const SLACK_BYTES = 64 * 1024;

export async function ensureStoreDir(storePath: string, fs: StoreFs): Promise<void> {
  const dir = dirname(storePath);
  try {
    // stat, not lstat: a symlinked folder is followed for writes as for reads; store-guard.ts judged its target.
    const st = await fs.stat(dir);
    if (st.isDirectory()) return;
    throw new StoreError('E_STORE_NOT_FILE', storePath, `token store folder ${dir} is not a folder`);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') {
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'E_STORE_UNREADABLE',
        storePath,
        `token store folder ${dir} cannot be checked (${errnoCode(err) ?? 'error'})`,
      );
    }
  }
  try {
    await fs.mkdir(dir, 0o700);
    // The mkdir mode is filtered by the umask; set exactly 0700.
    await fs.chmod(dir, 0o700);
  } catch (err) {
    throw writeFailure(storePath, err, `creating the folder ${dir}`);
  }
}

/** `ownerTag` (owner-tag.ts) leads the probe's name: probes are made without the store lock, and a writer's
 * cleanup must be able to tell a live process's probe from a killed one's (issue 15 review finding 7a). */
export async function ensureWritable(
  storePath: string,
  fs: StoreFs,
  warn: (line: string) => void,
  ownerTag?: string,
): Promise<void> {
  await ensureStoreDir(storePath, fs);
  const dir = dirname(storePath);
  let size = 0;
  try {
    size = (await fs.lstat(storePath)).size;
  } catch {
    size = 0;
  }
  try {
    const sfs = await fs.statfs(dir);
    warnNetwork(storePath, sfs.type, warn);
    const free = sfs.bavail * sfs.bsize;
    const need = 2 * size + SLACK_BYTES;
    if (free < need) {
      throw new StoreWriteError(
        'E_STORE_DISK_FULL',
        storePath,
        `cannot save token store ${storePath} safely: disk full: free space on ${dir} (${kib(free)} free, ${kib(need)} needed)`,
        { hint: 'nothing was changed; free some space and run the command again' },
      );
    }
  } catch (err) {
    if (err instanceof StoreWriteError) throw err;
    // statfs unsupported here: the probe below still catches a read-only or unwritable folder.
  }
  const probe = join(
    dir,
    `.${basename(storePath)}.${ownerTag ? `${ownerTag}-` : ''}${randomBytes(6).toString('hex')}.probe`,
  );
  try {
    const fh = await fs.open(probe, CREATE_EXCLUSIVE, 0o600);
    await fh.close();
  } catch (err) {
    throw writeFailure(storePath, err, 'creating a file in its folder');
  } finally {
    await fs.unlink(probe).catch(() => {});
  }
}

function warnNetwork(storePath: string, type: number, warn: (line: string) => void): void {
  const network = NETWORK_FS[type];
  if (network) warn(`token store ${storePath} is on a network file system (${network}); its locks may not protect it`);
}

/** The network file system warning of ensureWritable() alone (reserveWrite() checks room by allocating it). */
export async function warnIfNetworkFs(storePath: string, fs: StoreFs, warn: (line: string) => void): Promise<void> {
  const sfs = await fs.statfs(dirname(storePath)).catch(() => undefined);
  if (sfs) warnNetwork(storePath, sfs.type, warn);
}

function kib(bytes: number): string {
  return `${Math.floor(bytes / 1024)} KiB`;
}

export async function inspectStore(storePath: string, fs: StoreFs): Promise<StoreFileInfo> {
  const info: StoreFileInfo = { location: storePath, exists: false, kind: 'file' };
  try {
    const st = await fs.stat(dirname(storePath));
    info.dirMode = st.mode & 0o777;
  } catch {
    // folder missing: nothing connected yet
  }
  try {
    const st = await fs.lstat(storePath);
    info.exists = true;
    info.mode = st.mode & 0o777;
  } catch {
    // missing
  }
  return info;
}
