/**
 * `box-qc doctor` (issue 21): every check's ok / warn / fail against the emulator, with --json, exit 0 when no
 * check failed and 1 otherwise, and never a secret in the output.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli, type CliResult } from '../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, assertNoSecrets, tempStore, userRecord, writeStore } from './connect-helpers.js';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
}

let emu: Emulator;
let store: { dir: string; storePath: string };
const servers: Array<{ close(cb: () => void): unknown }> = [];
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: true });
  store = await tempStore();
});
afterEach(async () => {
  await emu.close();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function busyPort(): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as { port: number }).port;
}

async function env(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    ...emu.env(),
    BOX_QC_STORE: store.storePath,
    BOX_REDIRECT_URI: `http://127.0.0.1:${await freePort()}/callback`,
    ...extra,
  };
}

async function doctor(e: Record<string, string>): Promise<{ r: CliResult; checks: Record<string, Check> }> {
  const r = await runCli(['doctor', '--json'], { env: e });
  const doc = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  expect(doc.ok, describeResult(r)).toBe(r.code === 0);
  assertNoSecrets(r, [CLIENT_SECRET]);
  return { r, checks: Object.fromEntries(doc.checks.map((c) => [c.name, c])) };
}

async function seedStore(): Promise<ReturnType<Emulator['mint']>> {
  const pair = emu.mint({ login: EMAIL });
  await writeStore(store.storePath, { [EMAIL]: userRecord(pair, Date.now()) });
  return pair;
}

describe('doctor', () => {
  it('all ok against the emulator: one line per check, exit 0, and the same under --json', async () => {
    const pair = await seedStore();
    const e = await env();
    const human = await runCli(['doctor'], { env: e });
    expect(human.code, describeResult(human)).toBe(0);
    for (const name of ['credentials', 'redirect_uri', 'store_files', 'store_access', 'api', 'clock', 'public_url']) {
      expect(human.stdout).toMatch(new RegExp(`^ok\\s+${name}\\s`, 'm'));
    }
    expect(human.stdout).toContain('all checks passed');
    assertNoSecrets(human, [CLIENT_SECRET]);
    const { r, checks } = await doctor(e);
    expect(r.code).toBe(0);
    expect(Object.values(checks).every((c) => c.status === 'ok')).toBe(true);
    expect(checks.store_access!.message).toContain('1 user');
    // No user was touched: only the made-up refresh token went to Box, and the user's pair is still live.
    expect(emu.isLive(pair.refresh_token)).toBe(true);
    expect(emu.isLive(pair.access_token)).toBe(true);
  });

  it('fails credentials on a wrong secret (invalid_client) and on missing ones, with the fix', async () => {
    const wrong = await doctor(await env({ BOX_CLIENT_SECRET: 'not-the-secret' }));
    expect(wrong.r.code).toBe(1);
    expect(wrong.checks.credentials).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('invalid_client'),
    });
    expect(wrong.checks.credentials!.fix).toContain('BOX_CLIENT_SECRET');
    assertNoSecrets(wrong.r, ['not-the-secret']);
    const missing = await doctor(await env({ BOX_CLIENT_ID: '', BOX_CLIENT_SECRET: '' }));
    expect(missing.r.code).toBe(1);
    expect(missing.checks.credentials!.message).toBe('BOX_CLIENT_ID and BOX_CLIENT_SECRET are not set');
    const human = await runCli(['doctor'], { env: await env({ BOX_CLIENT_SECRET: 'not-the-secret' }) });
    expect(human.stdout).toMatch(/^fail\s+credentials\s.*invalid_client/m);
    expect(human.stdout).toMatch(/^\s+fix: copy BOX_CLIENT_ID/m);
  });

  it('fails redirect_uri when its port is in use or the URI is malformed, without exiting 2', async () => {
    const port = await busyPort();
    const busy = await doctor(await env({ BOX_REDIRECT_URI: `http://127.0.0.1:${port}/callback` }));
    expect(busy.r.code).toBe(1);
    expect(busy.checks.redirect_uri).toMatchObject({ status: 'fail', message: expect.stringContaining('in use') });
    const bad = await doctor(await env({ BOX_REDIRECT_URI: 'https://example.com/callback' }));
    expect(bad.r.code).toBe(1);
    expect(bad.checks.redirect_uri!.status).toBe('fail');
    expect(bad.checks.credentials!.status).toBe('ok');
  });

  it('fails store_files on a 0644 token file and a 0755 folder; a missing store is ok', async () => {
    const none = await doctor(await env());
    expect(none.checks.store_files).toMatchObject({ status: 'ok', message: expect.stringContaining('does not exist') });
    await seedStore();
    await chmod(store.storePath, 0o644);
    const open = await doctor(await env());
    expect(open.r.code).toBe(1);
    expect(open.checks.store_files).toMatchObject({ status: 'fail', message: expect.stringContaining('0644') });
    expect(open.checks.store_files!.fix).toContain('chmod 600');
    // Reading it tightened it (read-store.ts): the access check says so.
    expect(open.checks.store_access).toMatchObject({ status: 'warn', message: expect.stringContaining('tightened') });
    await chmod(dirname(store.storePath), 0o755);
    const dir = await doctor(await env());
    expect(dir.checks.store_files).toMatchObject({ status: 'fail', message: expect.stringContaining('0755') });
  });

  it('fails store_access on a corrupt store, and never rewrites it', async () => {
    await mkdir(dirname(store.storePath), { recursive: true, mode: 0o700 });
    await writeFile(store.storePath, '{"version":1,"users":{', { mode: 0o600 });
    const { r, checks } = await doctor(await env());
    expect(r.code).toBe(1);
    expect(checks.store_access!.status).toBe('fail');
    expect(checks.store_access!.message).toContain('cannot read the store');
    expect(await readFile(store.storePath, 'utf8')).toBe('{"version":1,"users":{');
  });

  it("warns on a clock more than 60 s off Box's Date header (the emulator clock moved)", async () => {
    await fetch(`${emu.url}/__emulator/clock/advance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ms: 5 * 60_000 }),
    });
    const { r, checks } = await doctor(await env());
    expect(r.code).toBe(0);
    expect(checks.clock).toMatchObject({ status: 'warn', message: expect.stringMatching(/behind Box's/) });
    expect(checks.clock!.fix).toContain('NTP');
  });

  it('fails api (and skips the clock) when the API is unreachable, naming the proxy without its password', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const direct = await doctor(await env({ BOX_API_BASE_URL: dead }));
    expect(direct.r.code).toBe(1);
    expect(direct.checks.api).toMatchObject({ status: 'fail', message: expect.stringContaining('not reachable') });
    expect(direct.checks.clock!.status).toBe('warn');
    const proxied = await doctor(
      await env({ BOX_API_BASE_URL: dead, HTTP_PROXY: `http://user:proxy-pw@127.0.0.1:${await freePort()}` }),
    );
    expect(proxied.checks.api!.message).toMatch(/via http:\/\/127\.0\.0\.1:\d+ \(from HTTP_PROXY\)/);
    assertNoSecrets(proxied.r, ['proxy-pw']);
  });

  it('checks BOX_QC_PUBLIC_URL at /healthz when set', async () => {
    const healthy = createHttpServer((req, res) => {
      res.statusCode = req.url === '/box-qc/healthz' ? 200 : 404;
      res.end('ok');
    });
    await new Promise<void>((r) => healthy.listen(0, '127.0.0.1', r));
    servers.push(healthy);
    const base = `http://127.0.0.1:${(healthy.address() as { port: number }).port}`;
    const up = await doctor(await env({ BOX_QC_PUBLIC_URL: `${base}/box-qc` }));
    expect(up.checks.public_url).toMatchObject({ status: 'ok' });
    const wrongPath = await doctor(await env({ BOX_QC_PUBLIC_URL: `${base}/elsewhere` }));
    expect(wrongPath.checks.public_url).toMatchObject({ status: 'fail', message: expect.stringContaining('404') });
    const down = await doctor(await env({ BOX_QC_PUBLIC_URL: `http://127.0.0.1:${await freePort()}` }));
    expect(down.r.code).toBe(1);
    expect(down.checks.public_url!.status).toBe('fail');
    expect(down.checks.public_url!.fix).toContain('box-qc serve');
  });

  it('a malformed BOX_QC_KEY fails the store check with a fix that names the key, not BOX_QC_STORE', async () => {
    const { checks } = await doctor(await env({ BOX_QC_KEY: 'not a key line' }));
    expect(checks.store_files!.status).toBe('fail');
    expect(checks.store_files!.message).toContain('BOX_QC_KEY');
    expect(checks.store_files!.fix).toMatch(/BOX_QC_KEY|keygen/);
    expect(checks.store_files!.fix).not.toContain('BOX_QC_STORE');
  });
});
