/**
 * Issue 18 on a PostgreSQL store: 20 concurrent `refresh --all --force` over a user whose grant was revoked
 * announce connection.dead exactly once (the claim is a row update like any other), a reconnect announces one
 * connection.recovered, and neither the events nor the command's environment hold the database password.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { describeResult, runCli, startCli } from '../../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, consent, waitForUrl } from '../../e2e/connect-helpers.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { openPg } from './pg-lab.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ port: 0, autoApprove: false });
});
afterEach(async () => emu.close());

async function connect(env: Record<string, string>): Promise<void> {
  const started = startCli(['connect', '--email', EMAIL, '--port', '0', '--no-browser'], { env, timeoutMs: 60_000 });
  let stderr = '';
  started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const location = await consent(await waitForUrl(() => stderr));
  expect((await fetch(location)).status).toBe(200);
  const r = await started.done;
  expect(r.code, describeResult(r)).toBe(0);
}

describe.skipIf(skip)('notifications on a PostgreSQL store', () => {
  it('20 concurrent refreshes of a revoked user: one connection.dead; reconnect: one connection.recovered', async () => {
    const db = await cluster().createDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-notify-pg-'));
    const env: Record<string, string> = {
      ...emu.env(),
      BOX_QC_STORE: db.b,
      BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback',
      BOX_QC_NOTIFY_COMMAND: `{ cat; echo; } >> '${dir}/events.jsonl'; env >> '${dir}/env.txt'`,
    };
    await connect(env);
    const store = openPg(db.a);
    const first = (await store.read()).users[EMAIL]!;
    const res = await fetch(`${emu.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: env.BOX_CLIENT_ID!,
        client_secret: CLIENT_SECRET,
        token: first.refresh_token,
      }),
    });
    expect(res.status).toBe(200);
    const runs = await Promise.all(
      Array.from({ length: 20 }, () => runCli(['refresh', '--all', '--force'], { env, timeoutMs: 90_000 })),
    );
    for (const r of runs) expect(r.code, describeResult(r)).toBe(4);
    await connect(env);
    await Promise.all(Array.from({ length: 5 }, () => runCli(['refresh', '--all'], { env, timeoutMs: 90_000 })));
    const second = (await store.read()).users[EMAIL]!;
    await store.close();
    const text = await readFile(join(dir, 'events.jsonl'), 'utf8');
    const events = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { event: string; id: string });
    expect(events.map((e) => e.event)).toEqual(['connection.dead', 'connection.recovered']);
    const everything = `${text}${await readFile(join(dir, 'env.txt'), 'utf8')}`;
    for (const secret of [
      cluster().password,
      CLIENT_SECRET,
      first.refresh_token,
      first.access_token,
      second.refresh_token,
    ])
      expect(everything.includes(secret), `${secret.slice(0, 4)}… leaked`).toBe(false);
  }, 180_000);
});
