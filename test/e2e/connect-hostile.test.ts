/**
 * Hostile callbacks before the real one (issue 5 "Done when"; reliability.md T10, T11): none is accepted,
 * nothing is reflected unescaped, the expected state never appears in a reply, exactly one code exchange
 * reaches the emulator, and the flow completes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { runCli, startCli, describeResult } from '../helpers/run-cli.js';
import { rawExchange } from '../helpers/raw-socket.js';
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
} from './connect-helpers.js';

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false });
});
afterEach(async () => {
  await emu.close();
});

describe('connect under hostile callbacks', () => {
  it('accepts only the real callback, reflects nothing, exchanges exactly one code', async () => {
    const store = await tempStore();
    const env = cliEnv(emu, store.storePath);
    // A state from an earlier run: same key and email, valid signature, another nonce (replay).
    const earlier = await runCli(['connect', '--email', EMAIL, '--print-url'], { env });
    const replayed = stateOf(earlier.stdout.trim());

    const c = startCli(['--debug', 'connect', '--email', EMAIL, '--no-browser', '--port', '0'], {
      env,
      timeoutMs: 60_000,
    });
    let stderr = '';
    c.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await waitForUrl(() => stderr);
    const state = stateOf(url);
    const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')!).port);
    const host = `127.0.0.1:${port}`;
    const location = await consent(url);
    const code = codeOf(location)!;

    const key = Buffer.from((await readFile(`${store.dir}/state-key`, 'utf8')).trim(), 'base64url');
    const payload = JSON.parse(Buffer.from(state.split('.')[1]!, 'base64url').toString());
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ email: EMAIL })
      .setProtectedHeader({ alg: 'HS256' })
      .setJti(payload.jti)
      .setAudience(payload.aud)
      .setIssuedAt(past)
      .setExpirationTime(past + 600)
      .sign(key);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${state.split('.')[1]}.`;
    const script = '<script>alert(1)</script>';
    const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
    const get = (target: string, h = host, method = 'GET') =>
      rawExchange(port, `${method} ${target} HTTP/1.1\r\nHost: ${h}\r\n\r\n`);

    const hostile: Array<[string, Promise<string>, number]> = [
      ['wrong state', get(`/callback?${q({ code, state: 'wrong' })}`), 400],
      ['missing state', get(`/callback?${q({ code })}`), 400],
      ['expired state', get(`/callback?${q({ code, state: expired })}`), 400],
      ['alg none', get(`/callback?${q({ code, state: algNone })}`), 400],
      ['replayed state', get(`/callback?${q({ code, state: replayed })}`), 400],
      ['error without state', get(`/callback?${q({ error: 'access_denied', error_description: script })}`), 400],
      [
        'error with bad state',
        get(`/callback?${q({ error: 'access_denied', error_description: script, state: 'x' })}`),
        400,
      ],
      ['100 KB query', get(`/callback?${q({ code, state, pad: 'A'.repeat(100 * 1024) })}`), 431],
      ['POST', get(`/callback?${q({ code, state })}`, host, 'POST'), 405],
      ['other path', get(`/other?${q({ code, state })}`), 404],
      ['root path', get('/'), 404],
      ['wrong Host', get(`/callback?${q({ code, state })}`, 'evil.example'), 400],
      ['rebinding Host', get(`/callback?${q({ code, state })}`, `attacker.example:${port}`), 400],
    ];
    for (const [name, reply, status] of hostile) {
      const text = await reply;
      expect(text, name).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(text.includes(state), `${name}: reply holds the state`).toBe(false);
      expect(text.includes(code), `${name}: reply holds the code`).toBe(false);
      expect(text.includes('<script>alert'), `${name}: reflected`).toBe(false);
    }
    expect(emu.stats().byGrantType.authorization_code ?? 0).toBe(0);

    // The real callback, then a second request on the same keep-alive socket.
    const both = await rawExchange(
      port,
      `GET /callback?${q({ code, state })} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n` +
        `GET /callback?${q({ code, state })} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    expect(both.match(/^HTTP\/1.1 /gm)).toHaveLength(1);
    expect(both).toMatch(/^HTTP\/1.1 200 /);
    expect(both).toMatch(/\r\nConnection: close\r\n/i);
    expect(both).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(both).toMatch(/\r\nReferrer-Policy: no-referrer\r\n/i);
    expect(both).toMatch(/\r\nCache-Control: no-store\r\n/i);
    expect(both.includes(code) || both.includes(state)).toBe(false);

    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(0);
    expect(emu.stats().byGrantType.authorization_code).toBe(1);
    // Replaying the captured callback after success: nobody listens any more.
    await expect(
      rawExchange(port, `GET /callback?${q({ code, state })} HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
    ).rejects.toThrow(/ECONNREFUSED/);
    const user = (await readStore(store.storePath)).users[EMAIL]!;
    assertNoSecrets(r, [user.access_token, user.refresh_token, code, CLIENT_SECRET, expired, replayed], state);
    expect(r.stderr.includes(script)).toBe(false);
    expect(r.stderr).toContain('debug: callback listener refused a request (state)');
  });

  it('honours error=access_denied only with the valid state, showing the code and not the description', async () => {
    const store = await tempStore();
    const c = startCli(['connect', '--email', EMAIL, '--no-browser', '--port', '0'], {
      env: cliEnv(emu, store.storePath),
      timeoutMs: 60_000,
    });
    let stderr = '';
    c.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await waitForUrl(() => stderr);
    const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
    redirect.search = new URLSearchParams({
      error: 'access_denied',
      error_description: '<script>alert(1)</script>',
      state: stateOf(url),
    }).toString();
    const page = await fetch(redirect);
    const body = await page.text();
    expect(body).not.toContain('<script>alert');
    const r = await c.done;
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toContain('Box: access_denied');
    expect(r.stderr).not.toContain('alert(1)');
    assertNoSecrets(r, [CLIENT_SECRET], stateOf(url));
  });
});
