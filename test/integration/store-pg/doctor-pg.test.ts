/** `box-qc doctor` on a PostgreSQL store (issue 21): the store checks pass, and the password is never printed. */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { CLIENT_SECRET, assertNoSecrets } from '../../e2e/connect-helpers.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
});
afterEach(async () => emu.close());

describe.skipIf(skip)('doctor on a PostgreSQL store', () => {
  it('store_files and store_access are ok; an unreachable server fails store_access; no password shown', async () => {
    const db = await cluster().createDatabase();
    const env = { ...emu.env(), BOX_QC_STORE: db.b, BOX_REDIRECT_URI: 'http://127.0.0.1:0/callback' };
    const r = await runCli(['doctor', '--json'], { env, timeoutMs: 60_000 });
    const checks = Object.fromEntries(
      (JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; message: string }> }).checks.map((c) => [
        c.name,
        c,
      ]),
    );
    expect(checks.store_files, describeResult(r)).toMatchObject({
      status: 'ok',
      message: expect.stringContaining('PostgreSQL'),
    });
    expect(checks.store_access).toMatchObject({ status: 'ok' });
    assertNoSecrets(r, [CLIENT_SECRET, cluster().password]);

    const down = db.b.replace(/:(\d+)\//, ':1/');
    const d = await runCli(['doctor', '--json'], { env: { ...env, BOX_QC_STORE: down }, timeoutMs: 60_000 });
    expect(d.code, describeResult(d)).toBe(1);
    const dc = (JSON.parse(d.stdout) as { checks: Array<{ name: string; status: string }> }).checks;
    expect(dc.some((c) => c.name.startsWith('store') && c.status === 'fail')).toBe(true);
    assertNoSecrets(d, [CLIENT_SECRET, cluster().password]);
  });
});
