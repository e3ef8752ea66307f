/**
 * Review of issue 16 item 1: what a library caller passes explicitly wins over the environment, as it did
 * before the library went through loadConfig. An environment value the call does not use must not refuse it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSession, openStore } from '../../../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-libopt-'));
  dirs.push(dir);
  return join(dir, 'tokens.json');
}

describe('library: explicit options win over the environment', () => {
  it('createSession({apiBaseUrl}) is not refused for a BOX_API_BASE_URL it does not use', async () => {
    const session = await createSession({
      store: tempStore(),
      apiBaseUrl: 'https://api.box.com',
      env: { BOX_API_BASE_URL: 'http://box.example.com' },
    });
    try {
      expect(session.apiBaseUrl.href).toBe('https://api.box.com/');
    } finally {
      await session.close();
    }
  });

  it('openStore(path, {lockWaitMs}) is not refused for a BOX_QC_LOCK_WAIT_MS it does not use', async () => {
    const store = openStore(tempStore(), { lockWaitMs: 100 }, { BOX_QC_LOCK_WAIT_MS: 'soon' });
    await store.close();
  });

  it('a store object without a location: BOX_QC_STORE is not the setting in use', async () => {
    const store = { close: async () => {} } as never;
    const session = await createSession({ store, env: { BOX_QC_STORE: '' } });
    await session.close();
  });
});
