/**
 * `--env-file`, read by box-qc itself rather than by process.loadEnvFile (issue 15 item 12): every way the
 * file can be wrong (missing, a folder, a FIFO or device, unreadable, huge) is one ConfigError (exit 2),
 * so it is one line on stderr and one JSON document under --json. The content is parsed by Node's own
 * dotenv parser (util.parseEnv), so the syntax is exactly that of `node --env-file`.
 *
 * Knows nothing of the terminal; merging into the environment ("already set wins") is applyEnvFile's job.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from './errors.js';
import type { Env } from './config.js';

/** A real .env holds a few hundred bytes; the cap keeps a wrong path (a log, /dev/zero) from filling memory. */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

function envFileError(path: string, reason: string, cause?: unknown): ConfigError {
  return new ConfigError(`--env-file ${path}: ${reason}`, {
    code: 'E_CONFIG_ENV_FILE',
    hint: 'pass a readable file of NAME=value lines (see README: "Register a Box app")',
    ...(cause === undefined ? {} : { cause }),
  });
}

function openReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'no such file (a part of the path is not a folder)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return `cannot be read (${err.code ?? 'error'})`;
  }
}

/** Reads and parses the file. Throws ConfigError (E_CONFIG_ENV_FILE) for anything but a readable regular file. */
export function readEnvFile(path: string): Record<string, string> {
  if (path.trim() === '') throw envFileError('""', 'is empty: name a file');
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer must not hang the command (it is refused below).
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw envFileError(path, openReason(err as NodeJS.ErrnoException), err);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw envFileError(path, 'is a folder, not a file');
    if (!st.isFile()) throw envFileError(path, 'is not a regular file');
    if (st.size > MAX_ENV_FILE_BYTES) throw envFileError(path, `is too large (over ${MAX_ENV_FILE_BYTES / 1024} KiB)`);
    return parseContent(readCapped(fd, path));
  } finally {
    closeSync(fd);
  }
}

/** Reads at most the cap (+1 byte to notice a file that grew since fstat). */
function readCapped(fd: number, path: string): Buffer {
  const buf = Buffer.alloc(MAX_ENV_FILE_BYTES + 1);
  let n = 0;
  try {
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_ENV_FILE_BYTES) throw envFileError(path, `is too large (over ${MAX_ENV_FILE_BYTES / 1024} KiB)`);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw envFileError(path, openReason(err as NodeJS.ErrnoException), err);
  }
  return buf.subarray(0, n);
}

function parseContent(bytes: Buffer): Record<string, string> {
  // A BOM (Windows editors) would otherwise become part of the first variable's name, silently.
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  return parseEnv(text) as Record<string, string>;
}

/** Sets each variable the environment does not already have (set to anything, even ''), like Node's loader. */
export function applyEnvFile(env: Env, vars: Record<string, string>): void {
  for (const [name, value] of Object.entries(vars)) {
    if (env[name] === undefined) env[name] = value;
  }
}
