/**
 * `box-qc refresh` end to end (issue 6): invalid_grant keeps and marks the record (exit 4), the in-flight
 * replay recovers under box-grace and reports under strict, temporary failures keep the old pair (exit 75),
 * and a full disk stops the refresh before anything reaches Box.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';
import { iso } from '../helpers/time.js';

const exec = promisify(execFile);
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('refresh', () => {
  it('skips a fresh user and refreshes an expiring one, one line each on stderr, exit 0', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: 'alice@example.com' });
    const b = lab.emu.mint({ login: 'bob@example.com' });
    await lab.seed({
      'alice@example.com': { access_token: a.access_token, refresh_token: a.refresh_token, expiresInMs: 50 * 60_000 },
      'bob@example.com': { access_token: b.access_token, refresh_token: b.refresh_token, expiresInMs: 5 * 60_000 },
    });
    const r = await lab.cli(['refresh', '--all']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^skipped\s+alice@example\.com/m);
    expect(r.stderr).toMatch(/^refreshed\s+bob@example\.com/m);
    expect(refreshCount(lab)).toBe(1);
  });

  it('refreshes a user whose refresh token is older than --max-age', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: 'alice@example.com' });
    await lab.seed({
      'alice@example.com': { ...a, extra: { refresh_token_issued_at: iso(Date.now() - 3 * 86_400_000) } },
    });
    const r = await lab.cli(['refresh', '--max-age', '2d', '--json']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout).users[0]).toMatchObject({ email: 'alice@example.com', status: 'refreshed' });
  });

  it('exits 4 on invalid_grant, keeps the record and marks it needs_reconnect with the reason', async () => {
    lab = await startLab();
    const a = lab.emu.mint({ login: 'alice@example.com' });
    const b = lab.emu.mint({ login: 'bob@example.com' });
    await lab.seed({
      'alice@example.com': {
        access_token: a.access_token,
        refresh_token: 'not-a-live-refresh-token',
        expiresInMs: -60_000,
      },
      'bob@example.com': { access_token: b.access_token, refresh_token: b.refresh_token, expiresInMs: -60_000 },
    });
    const r = await lab.cli(['refresh', '--all', '--json']);
    expect(r.code, describeResult(r)).toBe(4);
    const report = JSON.parse(r.stdout);
    expect(report.summary).toMatchObject({ refreshed: 1, needs_reconnect: 1 });
    const alice = (await lab.readStore()).users['alice@example.com']!;
    expect(alice).toMatchObject({ access_token: a.access_token, refresh_token: 'not-a-live-refresh-token' });
    expect(alice.needs_reconnect).toMatchObject({ reason: 'refresh_token_invalid' });
    // A later run does not call Box for the marked user, and says what to do.
    const before = refreshCount(lab);
    const again = await lab.cli(['refresh', '--email', 'alice@example.com']);
    expect(again.code, describeResult(again)).toBe(4);
    expect(again.stderr).toContain('run: box-qc connect --email alice@example.com');
    expect(refreshCount(lab)).toBe(before);
  });

  it('records refresh_token_expired when Box says the refresh token expired (60 days idle)', async () => {
    lab = await startLab({ refreshTokenTtlSeconds: 60 });
    const a = lab.emu.mint({ login: 'alice@example.com' });
    lab.emu.clock.advance(120_000);
    await lab.seed({ 'alice@example.com': { ...a, expiresInMs: -60_000 } });
    const r = await lab.cli(['refresh']);
    expect(r.code, describeResult(r)).toBe(4);
    expect((await lab.readStore()).users['alice@example.com']!.needs_reconnect).toMatchObject({
      reason: 'refresh_token_expired',
    });
  });

  for (const [mode, expected] of [
    ['box-grace', 'recovers'],
    ['strict', 'reports'],
  ] as const) {
    it(`a refresh left in flight by a killed process ${expected} under ${mode}`, async () => {
      lab = await startLab({ rotation: mode });
      const a = lab.emu.mint({ login: 'alice@example.com' });
      // The killed process's POST reached Box: the rotation is committed, its answer never saved.
      const res = await fetch(`${lab.emu.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: a.refresh_token,
          client_id: lab.env().BOX_CLIENT_ID!,
          client_secret: lab.env().BOX_CLIENT_SECRET!,
        }),
      });
      const successor = (await res.json()) as { access_token: string; refresh_token: string };
      await lab.seed({
        'alice@example.com': {
          ...a,
          expiresInMs: -60_000,
          extra: {
            refresh_in_flight: { since: iso(Date.now() - 5000), pid: 2 ** 22 + 7, host: 'gone', generation: 1 },
          },
        },
      });
      const r = await lab.cli(['token']);
      const user = (await lab.readStore()).users['alice@example.com']!;
      if (mode === 'box-grace') {
        expect(r.code, describeResult(r)).toBe(0);
        expect(r.stdout.trim()).toBe(successor.access_token);
        expect(user).toMatchObject({ refresh_token: successor.refresh_token });
        expect(user.refresh_in_flight).toBeUndefined();
      } else {
        expect(r.code, describeResult(r)).toBe(4);
        expect(user.needs_reconnect).toMatchObject({ reason: 'refresh_interrupted' });
        expect(user.refresh_token).toBe(a.refresh_token);
      }
    });
  }

  for (const mode of ['box-grace', 'strict'] as const) {
    it(`a lost refresh answer keeps the marker (exit 75); the next run ${mode === 'box-grace' ? 'recovers' : 'reports refresh_interrupted'} under ${mode}`, async () => {
      lab = await startLab({ rotation: mode });
      await lab.mintAndSeed(['alice@example.com'], { expired: true });
      lab.emu.faults.add({ route: '/oauth2/token', action: 'drop-after-commit', times: 1 });
      const first = await lab.cli(['token']);
      expect(first.code, describeResult(first)).toBe(75);
      const mid = (await lab.readStore()).users['alice@example.com']!;
      expect(mid.refresh_in_flight).toBeDefined();
      const second = await lab.cli(['token']);
      const user = (await lab.readStore()).users['alice@example.com']!;
      if (mode === 'box-grace') {
        expect(second.code, describeResult(second)).toBe(0);
        expect(lab.emu.isLive(user.refresh_token)).toBe(true);
        expect(user.refresh_in_flight).toBeUndefined();
      } else {
        expect(second.code, describeResult(second)).toBe(4);
        expect(user.needs_reconnect).toMatchObject({ reason: 'refresh_interrupted' });
      }
    });
  }

  it('SIGTERM while the refresh POST is in flight still saves the rotated pair, then exits 143', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 1500 });
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const { child, done } = lab.start(['token']);
    child.stdin!.end();
    // Once the POST has reached Box the signal must be deferred until the pair is saved. (A signal between the
    // marker write and the POST ends the run with nothing sent, issue 15 / review 2 #1: not this case.) The
    // emulator counts a grant when the request arrives.
    for (let i = 0; i < 2000 && refreshCount(lab) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, describeResult(r)).toBe(143);
    expect(r.stdout).toBe('');
    const user = (await lab.readStore()).users['alice@example.com']!;
    expect(lab.emu.isLive(user.refresh_token), describeResult(r)).toBe(true);
    expect(user.refresh_in_flight).toBeUndefined();
    expect(refreshCount(lab)).toBe(1);
  });

  it('keeps the old pair and exits 75 when the token endpoint answers 503; sends one request', async () => {
    lab = await startLab();
    lab.emu.faults.add({ route: '/oauth2/token', action: 'status', status: 503 });
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const before = await lab.readStore();
    const r = await lab.cli(['refresh']);
    expect(r.code, describeResult(r)).toBe(75);
    expect(r.stderr).toMatch(/temporary failure\s+alice@example\.com/);
    expect(refreshCount(lab)).toBe(1);
    const after = (await lab.readStore()).users['alice@example.com']!;
    expect(after.refresh_token).toBe(before.users['alice@example.com']!.refresh_token);
    // A 5xx is ambiguous (Box may have rotated before failing): the marker stays, and the next run's one
    // attempt is the replay of the same refresh token.
    expect(after.refresh_in_flight).toBeDefined();
    lab.emu.faults.clear();
    const again = await lab.cli(['refresh']);
    expect(again.code, describeResult(again)).toBe(0);
    const healed = (await lab.readStore()).users['alice@example.com']!;
    expect(healed.refresh_in_flight).toBeUndefined();
    expect(lab.emu.isLive(healed.refresh_token)).toBe(true);
  });

  it('exits 2 for --email with --all and for invalid_client', async () => {
    lab = await startLab();
    await lab.mintAndSeed(['alice@example.com'], { expired: true });
    const both = await lab.cli(['refresh', '--all', '--email', 'alice@example.com']);
    expect(both.code, describeResult(both)).toBe(2);
    const bad = await lab.cli(['refresh', '--all'], { BOX_CLIENT_SECRET: 'wrong' });
    expect(bad.code, describeResult(bad)).toBe(2);
    expect(bad.stderr).toContain('invalid_client');
    expect((await lab.readStore()).users['alice@example.com']!.needs_reconnect).toBeUndefined();
  });

  it('disk full before a refresh: no request reaches Box and the store is byte-identical', async (ctx) => {
    lab = await startLab();
    const mnt = `/tmp/boxqc-tmpfs-${process.pid}-${Date.now()}`;
    await mkdir(mnt, { recursive: true });
    try {
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    } catch (err) {
      console.log(`skipped: cannot mount a 64k tmpfs (${(err as Error).message.split('\n')[0]})`);
      ctx.skip();
      return;
    }
    try {
      const storePath = `${mnt}/box-qc/tokens.json`;
      const m = lab.emu.mint({ login: 'alice@example.com' });
      await mkdir(`${mnt}/box-qc`, { mode: 0o700 });
      const doc = {
        version: 1,
        users: {
          'alice@example.com': {
            access_token: m.access_token,
            refresh_token: m.refresh_token,
            access_token_expires_at: iso(Date.now() - 60_000),
            connected_at: iso(Date.now()),
            updated_at: iso(Date.now()),
            generation: 1,
          },
        },
      };
      await writeFile(storePath, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
      // Fill what is left of the file system.
      await writeFile(`${mnt}/filler`, Buffer.alloc(64 * 1024)).catch(() => undefined);
      const bytes = await readFile(storePath);
      lab.emu.resetStats();
      for (const args of [['token'], ['refresh', '--force']]) {
        const r = await lab.cli(args, { BOX_QC_STORE: storePath });
        expect(r.code, describeResult(r)).toBe(1);
        expect(r.stderr).toMatch(/disk full|no space/i);
      }
      expect(lab.emu.stats().total).toBe(0);
      expect((await readFile(storePath)).equals(bytes)).toBe(true);
    } finally {
      await exec('umount', [mnt]).catch(() => undefined);
      await rm(mnt, { recursive: true, force: true });
    }
  });
});
