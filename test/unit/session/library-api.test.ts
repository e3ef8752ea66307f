/** The library API (`import ... from 'box-qc'`): the same lifecycle in process, against the emulator. */
import { mkdtemp, mkdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import {
  createSession,
  getValidAccessToken,
  listFolder,
  refreshUsers,
  ReconnectRequiredError,
} from '../../../src/index.js';
import { iso } from '../../helpers/time.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function seeded(expired: boolean) {
  emu = await startEmulator({ port: 0, rootItems: 1234 });
  const m = emu.mint({ login: 'alice@example.com' });
  const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-lib-')), 'box-qc');
  await mkdir(dir, { mode: 0o700 });
  const storePath = join(dir, 'tokens.json');
  const now = Date.now();
  await writeFile(
    storePath,
    JSON.stringify({
      version: 1,
      users: {
        'alice@example.com': {
          access_token: m.access_token,
          refresh_token: m.refresh_token,
          access_token_expires_at: iso(now + (expired ? -60_000 : 3_000_000)),
          connected_at: iso(now),
          updated_at: iso(now),
          generation: 1,
        },
      },
    }),
    { mode: 0o600 },
  );
  const session = await createSession({ store: storePath, env: { ...emu.env() } });
  return { session, storePath, m };
}

describe('library API', () => {
  it('getValidAccessToken refreshes through the store and listFolder yields every item', async () => {
    const { session, storePath, m } = await seeded(true);
    try {
      const r = await getValidAccessToken(session, 'Alice@Example.com');
      expect(r.refreshed).toBe(true);
      expect(r.accessToken).not.toBe(m.access_token);
      const stored = JSON.parse(await readFile(storePath, 'utf8')).users['alice@example.com'];
      expect(stored.access_token).toBe(r.accessToken);
      let n = 0;
      for await (const item of listFolder(session, 'alice@example.com')) {
        expect(typeof item.name).toBe('string');
        n += 1;
      }
      expect(n).toBe(1234);
    } finally {
      await session.close();
    }
  });

  it('refreshUsers reports per user, and an unknown user is a ReconnectRequiredError', async () => {
    const { session } = await seeded(false);
    try {
      const { outcomes, exitCode } = await refreshUsers(session, { force: true });
      expect(exitCode).toBe(0);
      expect(outcomes).toMatchObject([{ email: 'alice@example.com', status: 'refreshed' }]);
      await expect(getValidAccessToken(session, 'bob@example.com')).rejects.toBeInstanceOf(ReconnectRequiredError);
    } finally {
      await session.close();
    }
  });
});
