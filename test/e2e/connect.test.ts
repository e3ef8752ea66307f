/**
 * connect end to end (issue 5 "Done when"): the built binary against the emulator, with an HTTP client
 * playing the browser (consent page -> Grant access -> redirect -> callback), the stdin paste, the two-step
 * flow, denial, timeout, an expired code and a taken port. Every test checks its output for secrets.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { runCli, startCli, describeResult, type CliResult } from '../helpers/run-cli.js';
import {
  CLIENT_SECRET,
  EMAIL,
  assertNoSecrets,
  cliEnv,
  codeOf,
  consent,
  readStore,
  stateOf,
  tempStore,
  waitForUrl,
  writeStore,
  userRecord,
} from './connect-helpers.js';

let emu: Emulator;
let store: { dir: string; storePath: string };
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false });
  store = await tempStore();
});
afterEach(async () => {
  await emu.close();
});

function connect(args: string[], input?: string) {
  const started = startCli(['connect', '--email', EMAIL, '--port', '0', ...args], {
    env: cliEnv(emu, store.storePath),
    timeoutMs: 60_000,
  });
  if (input !== undefined) started.child.stdin!.write(input);
  let stderr = '';
  started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { ...started, stderr: () => stderr };
}

/** Listening TCP sockets on `port` (state 0A in /proc/net/tcp and tcp6), as ss -ltn would list them. */
async function listeningAddresses(port: number): Promise<string[]> {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , st] = line.trim().split(/\s+/);
      if (!local || st !== '0A') continue;
      const [hexAddr, hexPort] = local.split(':');
      if (parseInt(hexPort!, 16) !== port) continue;
      found.push(
        hexAddr!.length === 8 ? `${Buffer.from(hexAddr!, 'hex').reverse().join('.')}:${port}` : `[${hexAddr}]:${port}`,
      );
    }
  }
  return found;
}

async function expectLiveStore(r: CliResult): Promise<{ access_token: string; refresh_token: string }> {
  expect(r.code, describeResult(r)).toBe(0);
  expect(r.stderr).toContain(`Connected ${EMAIL} to Box as alice@example.com (Alice Example)`);
  expect((await stat(store.storePath)).mode & 0o777).toBe(0o600);
  expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
  const user = (await readStore(store.storePath)).users[EMAIL]!;
  expect(emu.isLive(user.access_token)).toBe(true);
  expect(emu.isLive(user.refresh_token)).toBe(true);
  expect(user).toMatchObject({
    box_user_id: '11111',
    box_user_login: 'alice@example.com',
    box_user_name: 'Alice Example',
  });
  expect(emu.stats().byGrantType.authorization_code).toBe(1);
  return user;
}

describe('connect --no-browser (headless, HTTP client as the browser)', () => {
  it('connects through the consent page and stores the live pair at 0600 in 0700', async () => {
    const c = connect(['--no-browser']);
    const url = await waitForUrl(c.stderr);
    expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
    const location = await consent(url);
    const page = await fetch(location);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You can close this tab');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-/);
    const r = await c.done;
    const user = await expectLiveStore(r);
    assertNoSecrets(r, [user.access_token, user.refresh_token, codeOf(location), CLIENT_SECRET], stateOf(url));
  });

  it('listens on 127.0.0.1 only while waiting (the listening sockets ss -ltn shows, read from /proc/net)', async () => {
    const c = connect(['--no-browser']);
    const url = await waitForUrl(c.stderr);
    const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')!).port);
    expect(await listeningAddresses(port)).toEqual([`127.0.0.1:${port}`]);
    c.child.kill('SIGINT');
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(130);
  });

  it('accepts the redirected URL pasted on stdin', async () => {
    const c = connect(['--no-browser']);
    const url = await waitForUrl(c.stderr);
    const location = await consent(url);
    c.child.stdin!.write('not a url\n');
    c.child.stdin!.write(`${location}\n`);
    const r = await c.done;
    const user = await expectLiveStore(r);
    expect(r.stderr).toContain('that is not a valid box-qc callback address');
    assertNoSecrets(r, [user.access_token, user.refresh_token, codeOf(location), CLIENT_SECRET], stateOf(url));
  });

  it('exits 1 with a clear message when consent is denied, and stores nothing', async () => {
    const c = connect(['--no-browser']);
    const url = await waitForUrl(c.stderr);
    const location = await consent(url, 'deny');
    const page = await fetch(location);
    expect(await page.text()).toContain('Access was not granted');
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain('access was denied in the browser (Box: access_denied)');
    expect(r.stderr).not.toContain('The user denied access');
    await expect(stat(store.storePath)).rejects.toThrow(/ENOENT/);
    assertNoSecrets(r, [CLIENT_SECRET], stateOf(url));
  });

  it('times out with exit 1 and frees the port', async () => {
    const c = connect(['--no-browser', '--timeout', '1']);
    const url = await waitForUrl(c.stderr);
    const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')!).port);
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain('no answer from the browser within 1 seconds');
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
    probe.close();
    assertNoSecrets(r, [CLIENT_SECRET], stateOf(url));
  });

  it('reports an expired authorization code clearly (emulator clock past 30 s)', async () => {
    const c = connect(['--no-browser']);
    const url = await waitForUrl(c.stderr);
    const location = await consent(url);
    emu.clock.advance(31_000);
    await fetch(location);
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain('the authorization code expired (Box codes live 30 seconds): run connect again');
    assertNoSecrets(r, [codeOf(location), CLIENT_SECRET], stateOf(url));
  });

  it('keeps connected_at and reports a different Box user on reconnect', async () => {
    const old = emu.mint({ login: 'bob@example.com' });
    await writeStore(store.storePath, {
      [EMAIL]: userRecord(old, Date.now(), {
        box_user_id: '22222',
        box_user_login: 'bob@example.com',
        connected_at: '2026-01-01T00:00:00Z',
        needs_reconnect: { reason: 'refresh_token_invalid', message: 'x', at: '2026-01-02T00:00:00Z' },
      }),
    });
    const c = connect(['--no-browser', '--json']);
    const url = await waitForUrl(c.stderr);
    await fetch(await consent(url));
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain('was connected to a different Box user before (bob@example.com');
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      ok: true,
      email: EMAIL,
      reconnected: true,
      box_user: { id: '11111' },
      previous_box_user: { id: '22222' },
    });
    const user = (await readStore(store.storePath)).users[EMAIL]!;
    expect(user.connected_at).toBe('2026-01-01T00:00:00Z');
    expect(user.needs_reconnect).toBeUndefined();
    assertNoSecrets(
      r,
      [user.access_token, user.refresh_token, old.access_token, old.refresh_token, CLIENT_SECRET],
      stateOf(url),
    );
  });

  it('exits 2 naming --port when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['connect', '--email', EMAIL, '--no-browser', '--port', String(port)], {
        env: cliEnv(emu, store.storePath),
      });
      expect(r.code, describeResult(r)).toBe(2);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(r.stderr).toContain('--port');
    } finally {
      blocker.close();
    }
  });
});

describe('connect two-step (--print-url, then --redirected-url)', () => {
  it('prints the URL on stdout, then finishes from the pasted address in another process', async () => {
    const env = cliEnv(emu, store.storePath);
    const first = await runCli(['connect', '--email', EMAIL, '--print-url'], { env });
    expect(first.code, describeResult(first)).toBe(0);
    const url = first.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/oauth2\/authorize\?/);
    expect(new URL(url).searchParams.get('redirect_uri')).toBe('http://127.0.0.1:53117/callback');
    expect((await stat(`${store.dir}/state-key`)).mode & 0o777).toBe(0o600);
    const location = await consent(url);
    const second = await runCli(['connect', '--email', EMAIL, '--redirected-url', location], { env });
    const user = await expectLiveStore(second);
    const secrets = [user.access_token, user.refresh_token, codeOf(location), CLIENT_SECRET];
    assertNoSecrets(first, secrets);
    assertNoSecrets(second, secrets, stateOf(url));
  });

  it('refuses a pasted address for another email and reports an expired code', async () => {
    const env = cliEnv(emu, store.storePath);
    const first = await runCli(['connect', '--email', EMAIL, '--print-url'], { env });
    const location = await consent(first.stdout.trim());
    const other = await runCli(['connect', '--email', 'bob@example.com', '--redirected-url', location], { env });
    expect(other.code, describeResult(other)).toBe(1);
    expect(other.stderr).toContain('was not issued by "connect --print-url --email bob@example.com"');
    emu.clock.advance(31_000);
    const late = await runCli(['connect', '--email', EMAIL, '--redirected-url', location], { env });
    expect(late.code, describeResult(late)).toBe(1);
    expect(late.stderr).toContain('the authorization code expired (Box codes live 30 seconds): run connect again');
    for (const r of [first, other, late])
      assertNoSecrets(r, [codeOf(location), CLIENT_SECRET], stateOf(first.stdout.trim()));
  });

  it('rejects --print-url with --redirected-url before any side effect', async () => {
    const r = await runCli(['connect', '--email', EMAIL, '--print-url', '--redirected-url', 'x'], {
      env: cliEnv(emu, store.storePath),
    });
    expect(r.code).toBe(2);
    await expect(stat(store.dir)).rejects.toThrow(/ENOENT/);
  });
});
