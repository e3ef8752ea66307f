/**
 * Whether the store's folder and the lock files in it can be trusted (issue 15 items 6 and 13), judged like
 * OpenSSH's StrictModes judges ~/.ssh: a folder that another user can write to, or that another non-root user
 * owns, lets that user plant a lock (pid 1 stalls every refresh until the 60-day cliff) or swap files under
 * us. Refused with exit 2 and the exact command that fixes it; never repaired silently, since we cannot know
 * what was planted meanwhile.
 *
 * The folder is followed if it is a symbolic link, for reads and writes alike, and its target is judged: the
 * target is what holds the files. Run once per store object, before its first read or lock: every command
 * then answers the same for the same folder (before, `status` read through a symlinked folder and `refresh`
 * refused it as "not a folder"; a huge lock file crashed one command and not another).
 */
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../../../errors.js';
import { errnoCode, type StoreFs } from './fs-layer.js';
import { checkLockStat } from './lock-checks.js';
import { octal } from './read-store.js';

/**
 * Throws a StoreError (exit 2) for an untrustworthy folder or lock file. Resolves true when the folder was
 * checked, false when it does not exist yet (fine: box-qc creates it 0700; check again once it exists).
 */
export async function checkStoreFolder(storePath: string, fs: StoreFs, euid: number | undefined): Promise<boolean> {
  const dir = dirname(storePath);
  let st;
  try {
    st = await fs.stat(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      const dangling = await fs.lstat(dir).then(
        (l) => l.isSymbolicLink(),
        () => false,
      );
      if (dangling)
        throw new StoreError(
          'E_STORE_NOT_FILE',
          storePath,
          `token store folder ${dir} is a symbolic link to a missing folder`,
        );
      return false;
    }
    if (errnoCode(err) === 'ENOTDIR')
      throw new StoreError('E_STORE_NOT_FILE', storePath, `token store folder ${dir} is not a folder`);
    throw new StoreError(
      'E_STORE_UNREADABLE',
      storePath,
      `token store folder ${dir} cannot be checked (${errnoCode(err) ?? 'error'})`,
    );
  }
  if (!st.isDirectory())
    throw new StoreError('E_STORE_NOT_FILE', storePath, `token store folder ${dir} is not a folder`);
  if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
    // As root, chown-ing a user's folder to root would lock its owner out: run as the owner instead.
    const fix =
      euid === 0 ? `run box-qc as uid ${st.uid}, or run chown root ${dir}` : `run chown ${userName(euid)} ${dir}`;
    throw new StoreError(
      'E_STORE_DIR_OWNER',
      storePath,
      `token store folder ${dir} is owned by uid ${st.uid}, not by the current user (uid ${euid}) or root; refusing to use it: ${fix}`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new StoreError(
      'E_STORE_DIR_UNSAFE',
      storePath,
      `token store folder ${dir} is writable by other users (mode ${octal(st.mode)}); refusing to use it: run chmod 700 ${dir}`,
    );
  }
  await checkLockFiles(storePath, fs, euid);
  return true;
}

/** Every lock file of this store already in the folder, judged without opening it (lstat). */
async function checkLockFiles(storePath: string, fs: StoreFs, euid: number | undefined): Promise<void> {
  const dir = dirname(storePath);
  const prefix = `.${basename(storePath)}.`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw new StoreError(
      'E_STORE_UNREADABLE',
      storePath,
      `token store folder ${dir} cannot be listed (${errnoCode(err) ?? 'error'})`,
    );
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.lock')) continue;
    const path = join(dir, name);
    const st = await fs.lstat(path).catch(() => undefined);
    // Gone meanwhile: a lock released by its holder.
    if (st) checkLockStat(path, st, euid);
  }
}

function userName(uid: number): string {
  try {
    return userInfo().username || String(uid);
  } catch {
    return String(uid);
  }
}
