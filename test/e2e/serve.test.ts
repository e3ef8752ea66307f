/**
 * `box-qc invite` -> `box-qc serve` -> the emulator's authorize and consent -> the callback -> the store,
 * over plain HTTP with redirects followed by hand (issue 17 "Done when"). Also: a used link, a replayed and
 * two racing callbacks, a denial, a wrong Host, SIGTERM during a code exchange, and serve's exit-2/exit-1
 * configuration errors. Nothing may reach Box carrying the invite token; nothing secret reaches the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, cliEnv, codeOf, consent, readStore, stateOf, tempStore } from './connect-helpers.js';
import {
  assertCleanLog,
  assertTokenNeverSentToBox,
  freePort,
  getVia,
  invite,
  startServe,
  type ServeChild,
} from './serve-helpers.js';

let emu: Emulator;
let serve: ServeChild | undefined;
let env: Record<string, string>;
let port: number;
let publicUrl: string;
let storePath: string;

beforeEach(async () => {
  port = await freePort();
  publicUrl = `http://127.0.0.1:${port}/box-qc`;
  emu = await startEmulator({ redirectUris: ['http://127.0.0.1/box-qc/callback'] });
  storePath = (await tempStore()).storePath;
  env = cliEnv(emu, storePath, { BOX_QC_PUBLIC_URL: publicUrl });
});
afterEach(async () => {
  if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
  serve = undefined;
  await emu.close();
});

async function startDefault(): Promise<ServeChild> {
  serve = await startServe(['--listen', `127.0.0.1:${port}`], env);
  return serve;
}

/** Opens the link and grants at the consent page: the callback address Box redirects the browser to. */
async function followLink(link: string, decision: 'grant' | 'deny' = 'grant'): Promise<string> {
  const r = await fetch(link, { redirect: 'manual' });
  expect(r.status).toBe(302);
  expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  const authorize = r.headers.get('location')!;
  expect(authorize.startsWith(emu.authorizeUrl)).toBe(true);
  const q = new URL(authorize).searchParams;
  expect(q.get('redirect_uri')).toBe(`${publicUrl}/callback`);
  expect(q.get('code_challenge_method')).toBe('S256');
  return consent(authorize, decision);
}

describe('serve: a connect link end to end (plain HTTP)', () => {
  it('invite -> serve -> authorize -> consent -> callback -> store; used link 410; replay 400; wrong Host 421', async () => {
    const s = await startDefault();
    expect(s.stderr()).toContain(`listening on http://127.0.0.1:${port} (public URL ${publicUrl})`);
    const link = await invite(env, EMAIL);
    expect(link).toMatch(new RegExp(`^${publicUrl}/connect/[A-Za-z0-9_-]+$`));

    const callback = await followLink(link);
    expect(callback.startsWith(`${publicUrl}/callback?`)).toBe(true);
    const done = await getVia(callback);
    expect(done.status, done.body).toBe(200);
    expect(done.body).toContain(`Connected ${EMAIL} to Box as alice@example.com`);
    expect(done.headers['cache-control']).toBe('no-store');
    expect(done.headers['content-security-policy']).toContain("default-src 'none'");

    const user = (await readStore(storePath)).users[EMAIL]!;
    expect(emu.isLive(user.refresh_token)).toBe(true);

    const again = await fetch(link, { redirect: 'manual' });
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('ask for a new link');
    const exchanges = emu.stats().byGrantType.authorization_code;
    expect((await getVia(callback)).status).toBe(400);
    expect(emu.stats().byGrantType.authorization_code).toBe(exchanges);
    expect((await getVia(`http://127.0.0.1:${port}/healthz`, { host: 'evil.example' })).status).toBe(421);
    expect((await getVia(`http://127.0.0.1:${port}/healthz`)).body).toBe('ok\n');

    assertTokenNeverSentToBox(emu, link);
    const r = await s.stop();
    expect(r.code, describeResult(r)).toBe(0);
    const after = (await readStore(storePath)).users[EMAIL]!;
    assertCleanLog(r.stderr, [
      link.replace(/^.*\/connect\//, ''),
      codeOf(callback)!,
      stateOf(callback),
      after.access_token,
      after.refresh_token,
      CLIENT_SECRET,
    ]);
    expect(r.stderr).toMatch(/^GET \/connect\/:token 302 \d+ms$/m);
    expect(r.stderr).toMatch(/^GET \/callback 200 \d+ms$/m);
  });

  it('a denial is 403 and leaves the link usable', async () => {
    await startDefault();
    const link = await invite(env, EMAIL);
    const denied = await getVia(await followLink(link, 'deny'));
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('access was not granted');
    expect((await readStore(storePath)).users[EMAIL]).toBeUndefined();
    const ok = await getVia(await followLink(link));
    expect(ok.status).toBe(200);
  });

  it('a state signed with a key the store no longer holds is refused (400, nothing sent to Box), even after serve used that key', async () => {
    await startDefault();
    // A first flow: serve now knows the state key (flow.ts keeps it to check states without a store read).
    expect((await getVia(await followLink(await invite(env, EMAIL)))).status).toBe(200);
    const callback = await followLink(await invite(env, 'bob@example.com'));
    // The operator removes the key to invalidate every opened link (the hint of a corrupt key says so).
    const doc = JSON.parse(readFileSync(storePath, 'utf8')) as Record<string, unknown>;
    delete doc.box_qc_serve;
    writeFileSync(storePath, JSON.stringify(doc), { mode: 0o600 });
    const exchanges = emu.stats().byGrantType.authorization_code;
    expect((await getVia(callback)).status).toBe(400);
    expect(emu.stats().byGrantType.authorization_code).toBe(exchanges);
    expect((await readStore(storePath)).users['bob@example.com']).toBeUndefined();
  });

  it('two callbacks racing for one invite: exactly one saves', async () => {
    await startDefault();
    const link = await invite(env, EMAIL);
    const [c1, c2] = [await followLink(link), await followLink(link)];
    const answers = await Promise.all([getVia(c1), getVia(c2)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
    const user = (await readStore(storePath)).users[EMAIL]!;
    expect(emu.isLive(user.refresh_token)).toBe(true);
  });

  it('SIGTERM during an in-flight code exchange: the grant is saved before exit, exit 0', async () => {
    const s = await startDefault();
    const link = await invite(env, EMAIL);
    const callback = await followLink(link);
    // Longer than the 5 s after which a signalled process leaves with 128+n (process-signals.ts): only the
    // callback's critical section (serve-run.ts) keeps it alive until the save, then exit 0.
    emu.faults.add({ route: '/oauth2/token', grantType: 'authorization_code', action: 'latency', ms: 6000, times: 1 });
    const answer = getVia(callback);
    while ((emu.stats().byGrantType.authorization_code ?? 0) === 0) await new Promise((r) => setTimeout(r, 10));
    s.child.kill('SIGTERM');
    const [page, r] = await Promise.all([answer, s.done]);
    expect(page.status, page.body).toBe(200);
    expect(r.code, describeResult(r)).toBe(0);
    const user = (await readStore(storePath)).users[EMAIL]!;
    expect(emu.isLive(user.refresh_token)).toBe(true);
  });
});

describe('serve: configuration', () => {
  it('exit 2 without BOX_QC_PUBLIC_URL, naming it', async () => {
    const { BOX_QC_PUBLIC_URL: _unused, ...rest } = env;
    const r = await runCli(['serve', '--listen', `127.0.0.1:${port}`], { env: rest });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toContain('BOX_QC_PUBLIC_URL');
  });

  it('exit 2 for a non-loopback --listen without TLS, a bad --listen, or an unreadable certificate', async () => {
    const plain = await runCli(['serve', '--listen', '0.0.0.0:8443'], { env });
    expect(plain.code, describeResult(plain)).toBe(2);
    expect(plain.stderr).toContain('--tls-cert');
    const bad = await runCli(['serve', '--listen', 'example.com:80'], { env });
    expect(bad.code).toBe(2);
    const missing = await runCli(
      ['serve', '--listen', `127.0.0.1:${port}`, '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
      { env },
    );
    expect(missing.code, describeResult(missing)).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--listen localhost:<port> serves plain HTTP on the loopback, answering Host localhost and 127.0.0.1', async () => {
    serve = await startServe(['--listen', `localhost:${port}`], env);
    expect(serve.stderr()).toContain(`listening on http://127.0.0.1:${port} (public URL ${publicUrl})`);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const r = await getVia(`http://127.0.0.1:${port}/healthz`, { host });
      expect(r.status, `${host} ${r.body}`).toBe(200);
    }
    expect((await getVia(`http://127.0.0.1:${port}/healthz`, { host: 'evil.example' })).status).toBe(421);
  });

  it('exit 1 with one line when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const r = await runCli(['serve', '--listen', `127.0.0.1:${port}`], { env });
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.stderr).toContain('already in use');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  it('serves HTTPS with --tls-cert/--tls-key and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-tls-'));
    try {
      const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      serve = await startServe(['--listen', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key], env);
      expect(serve.stderr()).toContain(`listening on https://127.0.0.1:${port} (public URL ${publicUrl})`);
      const r = await serve.stop();
      expect(r.code, describeResult(r)).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
