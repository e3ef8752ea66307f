/**
 * Issue 18 "History", file store, end to end: connect, refresh and disconnect each append one line to
 * `<stem>.history.jsonl` beside the store (0600, never a token), `box-qc history` prints them newest last
 * (--email, --since, --json), and `status --email` shows the last three.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, cliEnv, consent, tempStore } from './connect-helpers.js';

let emu: Emulator;
let store: { dir: string; storePath: string };
let issued: string[];
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false });
  store = await tempStore();
  issued = [CLIENT_SECRET];
});
afterEach(async () => {
  await emu.close();
});

const historyPath = () => join(store.dir, 'tokens.history.jsonl');
const env = (extra: Record<string, string> = {}) =>
  cliEnv(emu, store.storePath, { BOX_QC_RETRY_BASE_MS: '20', ...extra });
const cli = (args: string[], extra?: Record<string, string>) => runCli(args, { env: env(extra), timeoutMs: 60_000 });

/** Remembers every token Box issued so far for `login`, for the no-token scan. */
function noteTokens(login = EMAIL): void {
  const t = emu.latestTokens(login);
  if (t) issued.push(t.access_token, t.refresh_token);
}

async function connect(email = EMAIL): Promise<void> {
  const first = await cli(['connect', '--email', email, '--print-url']);
  expect(first.code, describeResult(first)).toBe(0);
  const location = await consent(first.stdout.trim());
  issued.push(new URL(location).searchParams.get('code') ?? '');
  const second = await cli(['connect', '--email', email, '--redirected-url', location]);
  expect(second.code, describeResult(second)).toBe(0);
  noteTokens(email);
}

async function historyLines(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(historyPath(), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** No token, code or secret in any line; nothing that even looks like a 32-character Box token. */
async function assertNoTokens(): Promise<void> {
  const text = await readFile(historyPath(), 'utf8');
  for (const s of issued)
    if (s) expect(text.includes(s), `a token leaked into the history: ${s.slice(0, 6)}…`).toBe(false);
  expect(text).not.toMatch(/[A-Za-z0-9]{32}/);
}

describe('history (file store)', () => {
  it('connect, refresh and disconnect each append one line with the process facts and Box request id', async () => {
    await connect();
    const r = await cli(['refresh', '--email', EMAIL, '--force']);
    expect(r.code, describeResult(r)).toBe(0);
    noteTokens();
    const d = await cli(['disconnect', '--email', EMAIL]);
    expect(d.code, describeResult(d)).toBe(0);

    const lines = await historyLines();
    expect(lines.map((l) => [l.event, l.outcome, l.command])).toEqual([
      ['connect', 'connected', 'connect'],
      ['refresh', 'refreshed', 'refresh'],
      ['disconnect', 'revoked', 'disconnect'],
    ]);
    for (const l of lines) {
      expect(l).toMatchObject({ email: EMAIL, host: expect.any(String), pid: expect.any(Number) });
      expect(typeof l.os_user).toBe('string');
      expect(Number.isNaN(Date.parse(l.time as string))).toBe(false);
    }
    expect(lines[0]!.box_request_id).toMatch(/^[a-z0-9]+$/);
    expect(lines[1]!.box_request_id).toMatch(/^[a-z0-9]+$/);
    expect((await stat(historyPath())).mode & 0o777).toBe(0o600);
    await assertNoTokens();
  });

  it('records a refresh that died (invalid_grant) and a temporary failure, never a skip or a repeat of dead', async () => {
    await connect();
    await connect('bob@example.com');
    // Fresh tokens: a plain run skips both users and writes nothing.
    const skip = await cli(['refresh', '--all']);
    expect(skip.code, describeResult(skip)).toBe(0);
    expect(await historyLines()).toHaveLength(2);

    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 503, times: 1 });
    const temp = await cli(['refresh', '--email', EMAIL, '--force']);
    expect(temp.code, describeResult(temp)).toBe(75);
    // Box no longer knows bob's refresh token (used elsewhere): invalid_grant.
    const doc = JSON.parse(await readFile(store.storePath, 'utf8')) as {
      users: Record<string, Record<string, unknown>>;
    };
    doc.users['bob@example.com']!.refresh_token = 'not-a-live-refresh-token';
    await writeFile(store.storePath, JSON.stringify(doc), { mode: 0o600 });
    const dead = await cli(['refresh', '--email', 'bob@example.com', '--force']);
    expect(dead.code, describeResult(dead)).toBe(4);
    const again = await cli(['refresh', '--email', 'bob@example.com', '--force']);
    expect(again.code, describeResult(again)).toBe(4);

    const lines = (await historyLines()).slice(2);
    // Each failure with the state change it caused (issue 18: the transition is recorded as it is made, the
    // refresh line once the failure is handled).
    expect(lines.map((l) => [l.event, l.email, l.outcome])).toEqual([
      ['transition', EMAIL, 'degraded'],
      ['refresh', EMAIL, 'temporary'],
      ['transition', 'bob@example.com', 'dead'],
      ['refresh', 'bob@example.com', 'dead'],
    ]);
    expect(lines[1]!.detail).toContain('E_BOX_TEMPORARY');
    expect(lines[1]!.box_request_id).toMatch(/^[a-z0-9]+$/);
    expect(lines[3]!.detail).toContain('refresh_token_invalid');
    await assertNoTokens();
  });

  it('history prints newest last; --email, --since and --json select; a bad --since is exit 2', async () => {
    await connect();
    await connect('bob@example.com');
    // An old line (ten days ago) and one with a hostile email, as another version or a hand edit left them.
    const old = {
      time: new Date(Date.now() - 10 * 86_400_000).toISOString(),
      event: 'refresh',
      email: EMAIL,
      outcome: 'refreshed',
      host: 'oldhost',
      pid: 7,
      os_user: 'cron',
      command: 'refresh',
    };
    const hostile = { ...old, time: new Date(Date.now() - 11 * 86_400_000).toISOString(), email: 'x\u001b[2J@evil' };
    const current = await readFile(historyPath(), 'utf8');
    await writeFile(historyPath(), `${JSON.stringify(hostile)}\n${JSON.stringify(old)}\n${current}`);

    const all = await cli(['history', '--json']);
    expect(all.code, describeResult(all)).toBe(0);
    const doc = JSON.parse(all.stdout) as { ok: boolean; events: Array<Record<string, unknown>> };
    expect(doc.ok).toBe(true);
    expect(doc.events.map((e) => [e.email, e.event])).toEqual([
      ['x\u001b[2J@evil', 'refresh'],
      [EMAIL, 'refresh'],
      [EMAIL, 'connect'],
      ['bob@example.com', 'connect'],
    ]);

    const alice = await cli(['history', '--email', 'Alice@Example.com', '--since', '7d', '--json']);
    expect(alice.code, describeResult(alice)).toBe(0);
    expect((JSON.parse(alice.stdout) as typeof doc).events.map((e) => [e.email, e.event])).toEqual([
      [EMAIL, 'connect'],
    ]);

    const text = await cli(['history']);
    expect(text.code, describeResult(text)).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/connect\s+bob@example\.com\s+connected/);
    expect(lines[1]).toMatch(/oldhost/);
    expect(lines[1]).toMatch(/pid 7/);
    expect(text.stdout).not.toContain('\u001b');

    const bad = await cli(['history', '--since', 'last tuesday']);
    expect(bad.code, describeResult(bad)).toBe(2);
    expect(bad.stderr.trim().split('\n')[0]).toMatch(/--since/);
    const help = await cli(['history', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
  });

  it('history with no log yet prints nothing and exits 0', async () => {
    const r = await cli(['history', '--json']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, events: [] });
  });

  it('status --email shows the last three events', async () => {
    await connect();
    for (let i = 0; i < 3; i++) {
      const r = await cli(['refresh', '--email', EMAIL, '--force']);
      expect(r.code, describeResult(r)).toBe(0);
      noteTokens();
    }
    const s = await cli(['status', '--email', EMAIL]);
    expect(s.code, describeResult(s)).toBe(0);
    const shown = s.stdout.split('\n').filter((l) => /^\s+\d{4}-\d\d-\d\dT.*\b(refresh|connect)\b/.test(l));
    expect(shown, s.stdout).toHaveLength(3);
    expect(
      shown.every((l) => /refresh\s+alice@example\.com\s+refreshed/.test(l)),
      s.stdout,
    ).toBe(true);
    const j = await cli(['status', '--email', EMAIL, '--json']);
    expect(j.code, describeResult(j)).toBe(0);
    const report = JSON.parse(j.stdout) as { users: Array<{ history?: Array<Record<string, unknown>> }> };
    expect(report.users[0]!.history?.map((e) => e.outcome)).toEqual(['refreshed', 'refreshed', 'refreshed']);
  });

  it('an unwritable log never fails the command: one warning, the tokens saved', async () => {
    await connect();
    // A folder where the log file should be: every append fails.
    const { rm, mkdir } = await import('node:fs/promises');
    await rm(historyPath());
    await mkdir(historyPath());
    const r = await cli(['refresh', '--email', EMAIL, '--force']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr.match(/history log/g) ?? []).toHaveLength(1);
    const t = emu.latestTokens(EMAIL)!;
    const saved = JSON.parse(await readFile(store.storePath, 'utf8')) as {
      users: Record<string, { refresh_token: string }>;
    };
    expect(saved.users[EMAIL]!.refresh_token).toBe(t.refresh_token);
  });
});
