/**
 * The library's openStore() goes through the CLI's opener (core/store/open.ts), so its store carries the
 * audit log too, with this process's facts and `library` as the command (issue 18).
 */
import { mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/index.js';
import { recordHistory } from '../../../src/core/history/record.js';

describe('library store history', () => {
  it('records with pid, host, OS user and command "library"', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-libhist-')), 'box-qc');
    const store = openStore(join(dir, 'tokens.json'), {}, {});
    try {
      await store.update((doc) => {
        doc.users['a@x.com'] = {
          access_token: 'a',
          refresh_token: 'r',
          access_token_expires_at: '2026-01-01T00:00:00Z',
          connected_at: '2026-01-01T00:00:00Z',
          updated_at: '2026-01-01T00:00:00Z',
        };
      });
      await recordHistory(store, { event: 'invite.used', email: 'a@x.com', outcome: 'ok' });
      const [e] = (await store.history?.read({})) ?? [];
      expect(e).toMatchObject({ event: 'invite.used', pid: process.pid, host: hostname(), command: 'library' });
      expect(e?.os_user).toMatch(/\S/);
    } finally {
      await store.close();
    }
  });

  it('recordHistory on a store without a log (a test fake) does nothing and never throws', async () => {
    await expect(recordHistory({}, { event: 'connect', outcome: 'connected' })).resolves.toBeUndefined();
  });
});
