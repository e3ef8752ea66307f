/**
 * Writes a file store directly, as an earlier `connect` would have left it (no browser, no emulator round
 * trip): the lifecycle lab (test/e2e/refresh-fixtures.ts) and the fault lab (test/faults/helpers/lab.ts) both
 * seed their users through here, so the two suites start from the same records.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { iso } from './time.js';

export interface SeedUser {
  access_token: string;
  refresh_token: string;
  /** Access token expiry relative to now (ms); negative = expired. Default +50 min. */
  expiresInMs?: number;
  /** Fields added to (or replacing) the record's defaults. */
  extra?: Record<string, unknown>;
}

/** The expiry a seeded access token gets unless told otherwise: fresh for the length of any test. */
const SEED_EXPIRES_IN_MS = 50 * 60_000;

/**
 * A version-1 store at `storePath` (0600, its folder created 0700) holding `users`: connected a day ago,
 * last refreshed an hour ago, generation 1, `box_user_login` the email.
 */
export async function seedStore(storePath: string, users: Record<string, SeedUser>, now = Date.now()): Promise<void> {
  await mkdir(dirname(storePath), { recursive: true, mode: 0o700 });
  const doc = { version: 1, users: {} as Record<string, unknown> };
  for (const [email, u] of Object.entries(users)) {
    doc.users[email] = {
      access_token: u.access_token,
      refresh_token: u.refresh_token,
      access_token_expires_at: iso(now + (u.expiresInMs ?? SEED_EXPIRES_IN_MS)),
      connected_at: iso(now - 86_400_000),
      updated_at: iso(now - 3_600_000),
      refresh_token_issued_at: iso(now - 3_600_000),
      generation: 1,
      box_user_login: email,
      ...u.extra,
    };
  }
  await writeStoreDocument(storePath, doc);
}

/** The bytes box-qc writes (2-space JSON, final newline), mode 0600: for tests that edit a seeded store. */
export async function writeStoreDocument(storePath: string, doc: unknown): Promise<void> {
  await writeFile(storePath, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}
