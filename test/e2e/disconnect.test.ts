/** disconnect end to end (issue 5): revoke at Box, forget locally, say exactly what happened. */
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

let emu: Emulator;
let store: { dir: string; storePath: string };
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: true });
  store = await tempStore();
});
afterEach(async () => {
  await emu.close();
});

describe('disconnect', () => {
  it('revokes at Box and forgets only that user', async () => {
    const a = emu.mint({ login: EMAIL });
    const b = emu.mint({ login: 'bob@example.com' });
    await writeStore(store.storePath, { [EMAIL]: userRecord(a), 'bob@example.com': userRecord(b) });
    const r = await runCli(['disconnect', '--email', EMAIL], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain(`Disconnected ${EMAIL}: revoked at Box and forgotten locally`);
    expect(emu.isLive(a.refresh_token)).toBe(false);
    expect(emu.isLive(a.access_token)).toBe(false);
    expect(emu.isLive(b.refresh_token)).toBe(true);
    expect(Object.keys((await readStore(store.storePath)).users)).toEqual(['bob@example.com']);
    assertNoSecrets(r, [a.access_token, a.refresh_token, b.access_token, b.refresh_token, CLIENT_SECRET]);
  });

  it('says so and exits 0 when not connected', async () => {
    const r = await runCli(['disconnect', '--email', EMAIL], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain(`${EMAIL}: not connected; nothing to do`);
  });

  it('forgets locally when Box is unreachable and says the token is still valid at Box', async () => {
    const a = emu.mint({ login: EMAIL });
    await writeStore(store.storePath, { [EMAIL]: userRecord(a) });
    const s = createServer();
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    const port = (s.address() as { port: number }).port;
    await new Promise((res) => s.close(res));
    const r = await runCli(['disconnect', '--email', EMAIL], {
      env: cliEnv(emu, store.storePath, { BOX_API_BASE_URL: `http://127.0.0.1:${port}` }),
    });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain('Box unreachable: token forgotten locally but still valid at Box until it expires');
    expect((await readStore(store.storePath)).users).toEqual({});
    expect(emu.isLive(a.refresh_token)).toBe(true);
    assertNoSecrets(r, [a.access_token, a.refresh_token, CLIENT_SECRET]);
  });

  it('reports a grant that was already invalid at Box', async () => {
    await writeStore(store.storePath, { [EMAIL]: userRecord({ access_token: 'gone-at', refresh_token: 'gone-rt' }) });
    const r = await runCli(['disconnect', '--email', EMAIL, '--json'], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, users: [{ email: EMAIL, outcome: 'already-invalid' }] });
    expect((await readStore(store.storePath)).users).toEqual({});
    assertNoSecrets(r, ['gone-at', 'gone-rt', CLIENT_SECRET]);
  });

  it('--all revokes and forgets every user', async () => {
    const a = emu.mint({ login: EMAIL });
    const b = emu.mint({ login: 'bob@example.com' });
    await writeStore(store.storePath, { [EMAIL]: userRecord(a), 'bob@example.com': userRecord(b) });
    const r = await runCli(['disconnect', '--all'], { env: cliEnv(emu, store.storePath) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toContain('Disconnected alice@example.com: revoked at Box');
    expect(r.stderr).toContain('Disconnected bob@example.com: revoked at Box');
    expect(emu.isLive(a.refresh_token) || emu.isLive(b.refresh_token)).toBe(false);
    expect((await readStore(store.storePath)).users).toEqual({});
    assertNoSecrets(r, [a.access_token, a.refresh_token, b.access_token, b.refresh_token, CLIENT_SECRET]);
  });

  it('rejects --email with --all, and neither, as usage errors', async () => {
    expect((await runCli(['disconnect', '--all', '--email', EMAIL], { env: cliEnv(emu, store.storePath) })).code).toBe(
      2,
    );
    expect((await runCli(['disconnect'], { env: cliEnv(emu, store.storePath) })).code).toBe(2);
  });
});
