/**
 * The audit log never holds the refresh protocol (review of issue 18, finding 1): with the history table
 * locked by another session (a VACUUM FULL, a TRUNCATE left open), a refresh saves its pair and releases the
 * user's lock at once, so a second process for the same user is not left waiting on it (exit 75 before).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { seedStore } from '../../helpers/seed-store.js';
import { describeResult, runCli, startCli } from '../../helpers/run-cli.js';
import { requireBuild } from '../../helpers/store-procs.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
});
afterEach(async () => emu.close());

const EMAIL = 'alice@example.com';

describe.skipIf(skip)('history on a locked table', () => {
  it('a refresh saves and releases the user lock while box_qc_history is locked; the next process gets in', async () => {
    const db = await cluster().createDatabase();
    const file = join(await mkdtemp(join(tmpdir(), 'box-qc-hl-')), 'tokens.json');
    const pair = emu.mint({ login: EMAIL });
    await seedStore(file, {
      [EMAIL]: { access_token: pair.access_token, refresh_token: pair.refresh_token, expiresInMs: -1000 },
    });
    const env = { ...emu.env(), BOX_QC_STORE: db.a, BOX_QC_LOCK_WAIT_MS: '4000' };
    const migrated = await runCli(['store', 'migrate', '--from', file, '--to', db.a], { env });
    expect(migrated.code, describeResult(migrated)).toBe(0);

    const locker = new pg.Client({ connectionString: db.a });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE box_qc_history IN ACCESS EXCLUSIVE MODE');
      const first = startCli(['token', '--email', EMAIL], { env, timeoutMs: 120_000 });
      // Wait until the rotated pair is saved, then ask again for the same user from another process.
      for (;;) {
        const r = await cluster().query<{ g: string }>(db.name, 'SELECT generation::text AS g FROM box_qc_tokens');
        if (Number(r.rows[0]?.g ?? 0) >= 2) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const second = await runCli(['token', '--email', EMAIL, '--min-valid', '61m'], { env, timeoutMs: 120_000 });
      expect(second.code, describeResult(second)).toBe(0);
      const r1 = await first.done;
      expect(r1.code, describeResult(r1)).toBe(0);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
  }, 180_000);
});
