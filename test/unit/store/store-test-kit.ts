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

const T = '2026-01-01T00:00:00Z';

/** A valid stored record with made-up tokens `at-n` / `rt-n` (splice and layout tests), plus `extra` fields. */
export const record = (n: number, extra: Record<string, unknown> = {}) => ({
  access_token: `at-${n}`,
  refresh_token: `rt-${n}`,
  access_token_expires_at: T,
  connected_at: T,
  updated_at: T,
  ...extra,
});

/** Python's json.dumps(indent=2) with its default ensure_ascii: non-ASCII as \uXXXX escapes, no final newline. */
export function pythonStyle(doc: unknown): string {
  return JSON.stringify(doc, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
