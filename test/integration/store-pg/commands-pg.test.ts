/**
 * Issue 9: every command works unchanged on a PostgreSQL store (the same TokenStore contract): connect
 * --no-browser creates the first row (tables created on first use), then status, ls, refresh --force and
 * disconnect, with the password-bearing URL never printed. Runs the built binary against the emulator.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { describeResult, runCli, startCli, type CliResult } from '../../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, consent, waitForUrl } from '../../e2e/connect-helpers.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { openPg } from './pg-lab.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
});
afterEach(async () => emu.close());

describe.skipIf(skip)('commands on a PostgreSQL store', () => {
  it('connect, status, ls, refresh --force and disconnect all work, and no output holds a secret', async () => {
    const db = await cluster().createDatabase();
    const env = { ...emu.env(), BOX_QC_STORE: db.b, BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback' };
    const started = startCli(['connect', '--email', EMAIL, '--port', '0', '--no-browser'], { env, timeoutMs: 60_000 });
    let stderr = '';
    started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const location = await consent(await waitForUrl(() => stderr));
    expect((await fetch(location)).status).toBe(200);
    const connected = await started.done;
    expect(connected.code, describeResult(connected)).toBe(0);

    const store = openPg(db.a);
    const user = (await store.read()).users[EMAIL]!;
    await store.close();
    expect(emu.isLive(user.refresh_token)).toBe(true);
    expect(user).toMatchObject({ generation: 1, box_user_login: 'alice@example.com' });

    const results: CliResult[] = [connected];
    for (const argv of [
      ['status', '--json'],
      ['ls', '0', '--email', EMAIL],
      ['refresh', '--force', '--email', EMAIL],
      ['disconnect', '--email', EMAIL],
    ]) {
      const r = await runCli(argv, { env, timeoutMs: 60_000 });
      expect(r.code, `${argv.join(' ')}\n${describeResult(r)}`).toBe(0);
      results.push(r);
    }
    expect(JSON.parse(results[1]!.stdout).users[0]).toMatchObject({ email: EMAIL });
    const rows = await cluster().query(db.name, 'SELECT email FROM box_qc_tokens');
    expect(rows.rowCount).toBe(0);
    for (const r of results) {
      const all = `${r.stdout}${r.stderr}`;
      for (const secret of [cluster().password, user.refresh_token, CLIENT_SECRET]) expect(all).not.toContain(secret);
    }
  }, 90_000);
});
