/**
 * Two `serve` instances on one PostgreSQL store (issue 17 "Done when"), on 127.0.0.1 and 127.0.0.2 behind
 * one public name: the test plays the load balancer, sending the link to A and the callback to B with the
 * public Host. B accepts A's state (the state key and the invites live in the store) and saves the grant.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { openPostgresStore } from '../../src/core/store/postgres/postgres-store.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { describeResult } from '../helpers/run-cli.js';
import { EMAIL, consent } from './connect-helpers.js';
import { assertTokenNeverSentToBox, freePort, getVia, invite, startServe, type ServeChild } from './serve-helpers.js';

const { skip, cluster } = usePgCluster();
let emu: Emulator | undefined;
const children: ServeChild[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await emu?.close();
});

describe.skipIf(skip)('two serve instances on one PostgreSQL store', () => {
  it('a link opened on A lands its callback on B', async () => {
    const db = await cluster().createDatabase();
    const publicHost = `localhost:${await freePort()}`;
    const publicUrl = `http://${publicHost}/box-qc`;
    emu = await startEmulator({ redirectUris: ['http://localhost/box-qc/callback'] });
    const env = { ...emu.env(), BOX_QC_STORE: db.a, BOX_QC_PUBLIC_URL: publicUrl };
    const [pa, pb] = [await freePort('127.0.0.1'), await freePort('127.0.0.2')];
    const a = await startServe(['--listen', `127.0.0.1:${pa}`], env);
    children.push(a);
    const b = await startServe(['--listen', `127.0.0.2:${pb}`], { ...env, BOX_QC_STORE: db.b });
    children.push(b);

    const link = await invite(env, EMAIL);
    const start = await getVia(link, { via: `127.0.0.1:${pa}` });
    expect(start.status, start.body).toBe(302);
    const callback = await consent(String(start.headers.location));
    expect(callback.startsWith(`${publicUrl}/callback?`)).toBe(true);
    const done = await getVia(callback, { via: `127.0.0.2:${pb}` });
    expect(done.status, done.body).toBe(200);
    expect(done.body).toContain(`Connected ${EMAIL} to Box as alice@example.com`);
    // The link is used for both instances now.
    expect((await getVia(link, { via: `127.0.0.2:${pb}` })).status).toBe(410);
    expect((await getVia(callback, { via: `127.0.0.1:${pa}` })).status).toBe(400);

    const store = openPostgresStore(db.a, { pid: process.pid, hostname: 'test', env: {}, lockWaitMs: 10_000 });
    try {
      const user = (await store.read()).users[EMAIL]!;
      expect(emu.isLive(user.refresh_token)).toBe(true);
    } finally {
      await store.close();
    }
    assertTokenNeverSentToBox(emu, link);
    for (const c of [a, b]) {
      const r = await c.stop();
      expect(r.code, describeResult(r)).toBe(0);
    }
    expect(a.stderr()).toMatch(/^GET \/connect\/:token 302 \d+ms$/m);
    expect(b.stderr()).toMatch(/^GET \/callback 200 \d+ms$/m);
  });
});
