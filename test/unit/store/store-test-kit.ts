/** Shared setup for the store unit tests: a temp folder and a store opened on it with test-friendly options. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore, type FileStoreOptions } from '../../../src/core/store/index.js';
import { isPidAlive } from '../../../src/store-host.js';

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeStore(dir: string, extra: Partial<FileStoreOptions> = {}) {
  const warnings: string[] = [];
  const path = join(dir, 'tokens.json');
  const store = openFileStore(path, {
    pid: process.pid,
    euid: process.geteuid?.(),
    isPidAlive,
    lockWaitMs: 2_000,
    onWarning: (line) => warnings.push(line),
    ...extra,
  });
  return { store, warnings, path };
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const pair = (n: number, expiresIn = 3895) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn });
