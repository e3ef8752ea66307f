/** status end to end (issue 5): the report, --json, --email, --check; never a token. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { runCli, describeResult } from '../helpers/run-cli.js';
import {
  CLIENT_SECRET,
  EMAIL,
  assertNoSecrets,
  cliEnv,
  readStore,
  tempStore,
  userRecord,
  writeStore,
} from './connect-helpers.js';

const DAY = 86_400_000;
let emu: Emulator;
let store: { dir: string; storePath: string };
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: true });
  store = await tempStore();
});
afterEach(async () => {
  await emu.close();
});

async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

describe('status', () => {
  it('says "no users connected" and exits 0 on a missing store, also under --json', async () => {
    const env = cliEnv(emu, store.storePath);
    const r = await runCli(['status'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain('no users connected');
    expect(r.stdout).toContain('client secret  set');
    const j = await runCli(['status', '--json'], { env });
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({
      ok: true,
      users: [],
      config: { client_id_present: true, client_secret_present: true, store: { exists: false } },
    });
    for (const x of [r, j]) assertNoSecrets(x, [CLIENT_SECRET]);
  });

  it('shows each user with expiry, rotation + 60 days, warnings, reconnect marker and configuration', async () => {
    const now = Date.now();
    const a = emu.mint({ login: EMAIL });
    const b = emu.mint({ login: 'bob@example.com' });
    await writeStore(store.storePath, {
      [EMAIL]: userRecord(a, now, { refresh_token_issued_at: new Date(now - 55 * DAY).toISOString() }),
      'bob@example.com': userRecord(b, now, {
        box_user_id: '22222',
        box_user_login: 'bob@example.com',
        box_user_name: 'Bob \u001b[31mExample',
        needs_reconnect: {
          reason: 'refresh_token_invalid',
          message: 'Box rejected the refresh token',
          at: '2026-11-01T00:00:00Z',
        },
      }),
    });
    const env = cliEnv(emu, store.storePath);
    const r = await runCli(['status', '--long'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toMatch(/alice@example\.com {2}Box: alice@example\.com \(Alice Example, id 11111\)/);
    expect(r.stdout).toMatch(/access token {3}expires in \d+ min \(\d{4}-\d\d-\d\dT/);
    expect(r.stdout).toMatch(/WARNING: refresh token unused for 55(\.\d)? days/);
    expect(r.stdout).toContain('NEEDS RECONNECT: refresh_token_invalid');
    expect(r.stdout).toContain('Bob \\x1b[31mExample');
    expect(r.stdout).toMatch(/store {10}.*tokens\.json \(file 0600, folder 0700; from env\)/);
    const j = await runCli(['status', '--json'], { env });
    const doc = JSON.parse(j.stdout);
    expect(doc.users.map((u: { email: string }) => u.email)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(doc.users[0].refresh_token).toMatchObject({ warning: true, expired: false, rotated_at_estimated: false });
    expect(Date.parse(doc.users[0].refresh_token.dies_at) - Date.parse(doc.users[0].refresh_token.rotated_at)).toBe(
      60 * DAY,
    );
    expect(doc.users[1].needs_reconnect.reason).toBe('refresh_token_invalid');
    expect(doc.config.store.mode).toBe('0600');
    for (const x of [r, j])
      assertNoSecrets(x, [a.access_token, a.refresh_token, b.access_token, b.refresh_token, CLIENT_SECRET]);
  });

  it('exits 4 for --email that is not connected', async () => {
    await writeStore(store.storePath, { [EMAIL]: userRecord(emu.mint({ login: EMAIL })) });
    const r = await runCli(['status', '--email', 'nobody@example.com'], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(4);
    expect(r.stderr).toContain('nobody@example.com is not connected');
    const ok = await runCli(['status', '--email', 'ALICE@example.com', '--json'], {
      env: cliEnv(emu, store.storePath),
    });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).users).toHaveLength(1);
  });

  it('--check exits 0 when Box answers for every user, refreshing an expired access token', async () => {
    const a = emu.mint({ login: EMAIL });
    await writeStore(store.storePath, {
      [EMAIL]: userRecord(a, Date.now(), { access_token_expires_at: '2020-01-01T00:00:00Z' }),
    });
    const r = await runCli(['status', '--check', '--json'], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout).users[0].check).toEqual({ ok: true, box_login: EMAIL });
    const user = (await readStore(store.storePath)).users[EMAIL]!;
    expect(user.refresh_token).not.toBe(a.refresh_token);
    assertNoSecrets(r, [a.access_token, a.refresh_token, user.access_token, user.refresh_token, CLIENT_SECRET]);
  });

  it('--check exits 4 when a connection is dead and 75 when Box is unreachable', async () => {
    const a = emu.mint({ login: EMAIL });
    const dead = { access_token: 'dead-at', refresh_token: 'dead-rt' };
    await writeStore(store.storePath, {
      [EMAIL]: userRecord(a),
      'bob@example.com': userRecord(dead, Date.now(), {
        access_token_expires_at: '2020-01-01T00:00:00Z',
        box_user_login: 'bob@example.com',
      }),
    });
    const r = await runCli(['status', '--check'], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(4);
    expect(r.stdout).toMatch(/check {10}ok: Box answered as alice@example\.com/);
    expect(r.stdout).toMatch(/check {10}DEAD: /);
    const down = await runCli(['status', '--check'], {
      env: cliEnv(emu, store.storePath, { BOX_API_BASE_URL: await closedPortUrl() }),
    });
    expect(down.code, describeResult(down)).toBe(4);
    await writeStore(store.storePath, { [EMAIL]: userRecord(a) });
    const unreachable = await runCli(['status', '--check'], {
      env: cliEnv(emu, store.storePath, { BOX_API_BASE_URL: await closedPortUrl() }),
    });
    expect(unreachable.code, describeResult(unreachable)).toBe(75);
    expect(unreachable.stdout).toContain('Box unreachable');
    for (const x of [r, down, unreachable])
      assertNoSecrets(x, [a.access_token, a.refresh_token, 'dead-at', 'dead-rt', CLIENT_SECRET]);
  });

  it('many users (issue 21): one tab-separated line each on a pipe, problems first; --state filters; --long', async () => {
    const now = Date.now();
    const users: Record<string, Record<string, unknown>> = {};
    for (let i = 0; i < 200; i += 1) {
      const email = `u${String(i).padStart(3, '0')}@example.com`;
      users[email] = userRecord({ access_token: `at-${i}`, refresh_token: `rt-${i}` }, now, {
        box_user_login: email,
        ...(i % 50 === 7
          ? {
              needs_reconnect: {
                reason: 'refresh_token_invalid',
                message: 'Box rejected the token',
                at: new Date(now).toISOString(),
              },
            }
          : {}),
      });
    }
    await writeStore(store.storePath, users);
    const env = cliEnv(emu, store.storePath);
    const r = await runCli(['status'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(200);
    for (const l of lines) expect(l.split('\t')).toHaveLength(8);
    expect(lines.slice(0, 4).map((l) => l.split('\t')[2])).toEqual(['dead', 'dead', 'dead', 'dead']);
    expect(lines[0]!.split('\t')[7]).toBe('box-qc connect --email u007@example.com');
    const dead = await runCli(['status', '--state', 'dead'], { env });
    expect(
      dead.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t')[0]),
    ).toEqual(['u007@example.com', 'u057@example.com', 'u107@example.com', 'u157@example.com']);
    const json = await runCli(['status', '--state', 'dead', '--json'], { env });
    expect((JSON.parse(json.stdout) as { users: unknown[] }).users).toHaveLength(4);
    const bad = await runCli(['status', '--state', 'sleepy'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--state must be one of dead, expiring, degraded, healthy');
    const long = await runCli(['status', '--long', '--state', 'dead'], { env });
    expect(long.stdout).toContain('NEEDS RECONNECT');
    expect(long.stdout).toContain('configuration');
    for (const x of [r, dead, json, long]) assertNoSecrets(x, ['at-7', 'rt-7', CLIENT_SECRET]);
  });
});
