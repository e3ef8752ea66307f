/**
 * The token store: where it is, the folder and file modes (file store: 0700 and 0600, README "The token
 * store"), and whether it can be read and written now (both backends: read() and ensureWritable(), which change
 * nothing). Modes are looked at before the read, because reading a store that others may read tightens it to 0600
 * (core/store/file/read-store.ts) and reports that as a warning, which this check then explains.
 */
import type { StoreFileInfo, TokenStore } from '../store/types.js';
import { fail, messageOf, ok, warn, type DoctorCheck } from './types.js';

const octal = (mode: number) => `0${mode.toString(8)}`;

export function checkStoreFiles(info: StoreFileInfo, folder: string): DoctorCheck {
  const name = 'store_files';
  if (info.kind === 'postgres') {
    const s = info.server;
    const where = s ? `${s.host}:${s.port}/${s.database}${s.user ? ` as ${s.user}` : ''}` : info.location;
    return ok(
      name,
      `PostgreSQL store ${info.location} (${where}); ${info.exists ? 'tables present' : 'no tables yet'}`,
    );
  }
  if (info.dirMode !== undefined && (info.dirMode & 0o077) !== 0) {
    return fail(
      name,
      `the store folder ${folder} is ${octal(info.dirMode)}: other users may list or replace the token file`,
      `chmod 700 ${folder}`,
    );
  }
  if (!info.exists) {
    return ok(name, `${info.location} does not exist yet (connect creates it, 0600 in a 0700 folder)`);
  }
  if (info.mode !== undefined && (info.mode & 0o077) !== 0) {
    return fail(
      name,
      `the token file ${info.location} is ${octal(info.mode)}: other users may read every token in it`,
      `chmod 600 ${info.location}, then reconnect the users (their tokens may have been copied)`,
    );
  }
  return ok(name, `${info.location} (${octal(info.mode ?? 0o600)} in a ${octal(info.dirMode ?? 0o700)} folder)`);
}

export async function checkStoreAccess(store: TokenStore, warnings: readonly string[]): Promise<DoctorCheck> {
  const name = 'store_access';
  let users: number;
  try {
    users = Object.keys((await store.read()).users).length;
  } catch (err) {
    return fail(name, `cannot read the store: ${messageOf(err)}`, 'fix what the message names; never delete the store');
  }
  try {
    await store.ensureWritable();
  } catch (err) {
    return fail(
      name,
      `the store can be read (${users} users) but not written: ${messageOf(err)}`,
      'a refresh must save the rotated pair: free disk space, fix ownership, or point BOX_QC_STORE at a writable place',
    );
  }
  const said = warnings.find((w) => w.length > 0);
  if (said !== undefined) return warn(name, `readable and writable (${users} users), but: ${said}`, 'see the message');
  return ok(name, `readable and writable (${users} user${users === 1 ? '' : 's'})`);
}
