/**
 * The HS256 key that signs the OAuth `state`. It lives in the store folder (0600 file, 0700 folder, created
 * on first use) so that the second process of the two-step headless flow can verify a state the first one
 * issued (issue 5 step 6). It signs; it is not a Box secret.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../errors.js';

export const STATE_KEY_FILE = 'state-key';
const KEY_BYTES = 32;

/** Reads the key, creating folder (0700) and file (0600, O_EXCL so two first runs cannot both write) if needed. */
export async function loadOrCreateStateKey(dir: string): Promise<Uint8Array> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, STATE_KEY_FILE);
  const existing = await readKey(path);
  if (existing) return existing;
  const key = randomBytes(KEY_BYTES);
  try {
    const fh = await open(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await fh.writeFile(`${key.toString('base64url')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(path, 0o600);
    return new Uint8Array(key);
  } catch (err) {
    // Another process created it between our read and our create: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readKey(path);
      if (theirs) return theirs;
    }
    throw keyError(path, err);
  }
}

/** Reads an existing key only (the `--redirected-url` step must not invent a key that cannot verify). */
export async function readStateKey(dir: string): Promise<Uint8Array | undefined> {
  return readKey(join(dir, STATE_KEY_FILE));
}

async function readKey(path: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    const info = await stat(path);
    // Refuse a key others could read or forge with (reliability.md F18).
    if (!info.isFile() || (info.mode & 0o077) !== 0) {
      throw new ConfigError(`${path}: the state key must be a regular file with mode 0600`, {
        code: 'E_STATE_KEY_PERMISSIONS',
        hint: `run: chmod 600 ${path}  (or delete it; a new one is created)`,
      });
    }
    text = await readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof ConfigError) throw err;
    throw keyError(path, err);
  }
  const key = Buffer.from(text.trim(), 'base64url');
  if (key.length !== KEY_BYTES) {
    throw new ConfigError(`${path}: not a valid state key`, {
      code: 'E_STATE_KEY_CORRUPT',
      hint: `delete ${path}; a new one is created`,
    });
  }
  return new Uint8Array(key);
}

function keyError(path: string, cause: unknown): ConfigError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
  return new ConfigError(`${path}: cannot read or create the state key (${code})`, { code: 'E_STATE_KEY', cause });
}
