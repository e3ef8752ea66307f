/**
 * Issue 16 item 1: the library opens stores through the CLI's opener, so `import ... from 'box-qc'` works on
 * both backends. Once `openStore('postgres://u@h/db')` made a *file* store at `<cwd>/postgres:/u@h/db`. Here
 * the library's own entry points (openStore, createSession, getValidAccessToken, listFolder, refreshUsers) run
 * end to end against the emulator, once on a token file and once on a PostgreSQL database.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { createSession, getValidAccessToken, listFolder, openStore, refreshUsers } from '../../../src/index.js';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { pgUnavailable, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const skip = pgUnavailable();
let cluster: PgCluster | undefined;
beforeAll(async () => {
  if (!skip) cluster = await startPgCluster();
}, 60_000);
afterAll(async () => cluster?.stop());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const EMAIL = 'alice@example.com';

interface Target {
  location: string;
  kind: 'file' | 'postgres';
  /** Rows or users as the backend itself sees them, read without the library. */
  stored(): Promise<string[]>;
}

async function fileTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-libfile-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const location = join(dir, 'tokens.json');
  return { location, kind: 'file', stored: async () => (existsSync(location) ? [EMAIL] : []) };
}

async function pgTarget(): Promise<Target> {
  const db = await cluster!.createDatabase();
  return {
    location: db.a,
    kind: 'postgres',
    stored: async () =>
      (await cluster!.query<{ email: string }>(db.name, 'SELECT email FROM box_qc_tokens')).rows.map((r) => r.email),
  };
}

describe.skipIf(skip)('the library on both store backends', () => {
  it.each([
    ['file', fileTarget],
    ['postgres', pgTarget],
  ] as const)(
    '%s: openStore, createSession, getValidAccessToken, listFolder and refreshUsers',
    async (kind, target) => {
      const emu: Emulator = await startEmulator({ port: 0, rootItems: 3 });
      cleanups.push(() => emu.close());
      const t = await target();
      const minted = emu.mint({ login: EMAIL });

      const seed = openStore(t.location, {}, {});
      try {
        // The backend the location names, before anything is written (a file named after the URL would be the bug).
        expect((await seed.inspect()).kind).toBe(kind);
        await seed.update((doc) =>
          saveUserTokens(
            doc,
            EMAIL,
            {
              accessToken: minted.access_token,
              refreshToken: minted.refresh_token,
              expiresIn: minted.expires_in,
            },
            undefined,
            Date.now(),
          ),
        );
      } finally {
        await seed.close();
      }
      expect(await t.stored()).toEqual([EMAIL]);

      // BOX_QC_STORE, as the CLI reads it: no store argument.
      const session = await createSession({ env: { ...emu.env(), BOX_QC_STORE: t.location } });
      try {
        expect(session.store.location).toBe(t.location);
        const first = await getValidAccessToken(session, EMAIL, { force: true });
        expect(first.refreshed).toBe(true);
        const names: string[] = [];
        for await (const item of listFolder(session, EMAIL)) names.push(item.name);
        expect(names).toHaveLength(3);
        const { outcomes, exitCode } = await refreshUsers(session, { force: true });
        expect(exitCode).toBe(0);
        expect(outcomes).toMatchObject([{ email: EMAIL, status: 'refreshed' }]);
      } finally {
        await session.close();
      }

      // What the backend holds is the emulator's newest pair: both rotations were persisted there.
      const check = openStore(t.location, {}, {});
      try {
        const saved = (await check.read()).users[EMAIL]!;
        expect(saved.refresh_token).toBe(emu.latestTokens(EMAIL)!.refresh_token);
        expect(emu.isLive(saved.refresh_token)).toBe(true);
        expect(saved.generation).toBe(3);
      } finally {
        await check.close();
      }
      expect(emu.chainCheck(EMAIL).ok).toBe(true);
    },
    60_000,
  );
});
