/**
 * Issue 18 part A end to end: connection states in the store record and exactly-once notification of each
 * transition (BOX_QC_NOTIFY_COMMAND, BOX_QC_NOTIFY_URL), `refresh --quiet`, the state in `status`. The built
 * binary against the emulator; the notify command appends its stdin (and its environment) to files the test
 * reads, so "exactly once" is counted across real concurrent processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeResult, startCli } from '../helpers/run-cli.js';
import { writeStoreDocument } from '../helpers/seed-store.js';
import { iso } from '../helpers/time.js';
import { startLab, type Lab } from './refresh-fixtures.js';
import { consent, waitForUrl } from './connect-helpers.js';

const EMAIL = 'alice@example.com';
const NOTIFY_SECRET = 'notify-secret-0123456789abcdef';

let lab: Lab | undefined;
let server: Server | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

interface NotifyEvent {
  id: string;
  event: string;
  email: string;
  state: string;
  reason: string | null;
  since: string;
  at: string;
  host: string;
  reconnect: string;
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'boxqc-notify-'));
}

/** A notify command that appends its one event to events.jsonl and its environment to env.txt, then `tail`. */
function recorder(dir: string, tail = 'exit 0'): string {
  return `{ cat; echo; } >> '${dir}/events.jsonl'; env >> '${dir}/env.txt'; echo '--' >> '${dir}/env.txt'; ${tail}`;
}

async function events(dir: string, file = 'events.jsonl'): Promise<NotifyEvent[]> {
  const text = await readFile(join(dir, file), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as NotifyEvent);
}

/** Every token the emulator issued for the user, every token the store held, the client secret and ours. */
function secretsOf(l: Lab, stores: Array<Awaited<ReturnType<Lab['readStore']>>>): string[] {
  const out = new Set<string>([l.env().BOX_CLIENT_SECRET!, NOTIFY_SECRET]);
  for (const doc of stores)
    for (const u of Object.values(doc.users)) {
      out.add(u.access_token);
      out.add(u.refresh_token);
    }
  const latest = l.emu.latestTokens(EMAIL);
  if (latest) {
    out.add(latest.access_token);
    out.add(latest.refresh_token);
  }
  return [...out].filter((s) => s.length >= 8);
}

async function assertNoSecretsIn(dir: string, secrets: string[]): Promise<void> {
  for (const name of await readdir(dir)) {
    const text = await readFile(join(dir, name), 'utf8');
    for (const s of secrets) expect(text.includes(s), `${s.slice(0, 6)}… leaked into ${name}`).toBe(false);
  }
}

async function expireAccess(l: Lab, extra: Record<string, unknown> = {}): Promise<void> {
  const doc = await l.readStore();
  const u = doc.users[EMAIL]!;
  u.access_token_expires_at = iso(Date.now() - 60_000);
  Object.assign(u, extra);
  await writeStoreDocument(l.storePath, doc);
}

async function revoke(l: Lab, token: string): Promise<void> {
  const env = l.env();
  const res = await fetch(`${l.emu.url}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: env.BOX_CLIENT_ID!, client_secret: env.BOX_CLIENT_SECRET!, token }),
  });
  expect(res.status).toBe(200);
}

/** `connect` through the emulator's consent page, as a person reconnecting would. */
async function reconnect(l: Lab, extra: Record<string, string>): Promise<void> {
  const started = startCli(['connect', '--email', EMAIL, '--port', '0', '--no-browser'], {
    env: l.env({ BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback', ...extra }),
    timeoutMs: 60_000,
  });
  let stderr = '';
  started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await waitForUrl(() => stderr);
  const location = await consent(url);
  await fetch(location);
  const r = await started.done;
  expect(r.code, describeResult(r)).toBe(0);
}

describe('notify on transitions', () => {
  it('20 concurrent refresh --all over a user who dies: exactly one connection.dead; reconnect: exactly one connection.recovered', async () => {
    lab = await startLab({ autoApprove: false });
    const dir = await tempDir();
    await lab.mintAndSeed([EMAIL, 'bob@example.com'], { expired: true });
    const seeded = await lab.readStore();
    await revoke(lab, seeded.users[EMAIL]!.refresh_token);
    const notify = { BOX_QC_NOTIFY_COMMAND: recorder(dir) };
    const runs = await Promise.all(Array.from({ length: 20 }, () => lab!.cli(['refresh', '--all'], notify)));
    for (const r of runs) expect(r.code, describeResult(r)).toBe(4);
    const dead = await events(dir);
    expect(dead.map((e) => e.event)).toEqual(['connection.dead']);
    expect(dead[0]).toMatchObject({
      email: EMAIL,
      state: 'dead',
      reason: 'refresh_token_invalid',
      reconnect: `box-qc connect --email ${EMAIL}`,
    });
    expect(dead[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    const afterDeath = await lab.readStore();
    expect(afterDeath.users[EMAIL]!.health).toMatchObject({ state: 'dead' });
    expect((afterDeath.users[EMAIL]!.health as { pending?: unknown[] }).pending ?? []).toEqual([]);
    // More runs: still dead, nothing new.
    await Promise.all(Array.from({ length: 3 }, () => lab!.cli(['refresh', '--all'], notify)));
    expect(await events(dir)).toHaveLength(1);

    await reconnect(lab, notify);
    await Promise.all(Array.from({ length: 5 }, () => lab!.cli(['refresh', '--all'], notify)));
    const all = await events(dir);
    expect(all.map((e) => e.event)).toEqual(['connection.dead', 'connection.recovered']);
    expect(all[1]).toMatchObject({ email: EMAIL, state: 'healthy' });
    expect(new Set(all.map((e) => e.id)).size).toBe(2);
    await assertNoSecretsIn(dir, secretsOf(lab, [seeded, afterDeath, await lab.readStore()]));
    const env = await readFile(join(dir, 'env.txt'), 'utf8');
    expect(env).not.toMatch(/^BOX_CLIENT|^BOX_QC_NOTIFY|^BOX_QC_STORE/m);
    expect(env).toMatch(/^BOX_QC_EVENT=connection\.dead$/m);
  }, 180_000);

  it('a failing or hanging notify command is retried by the next run with the same id, and not repeated after success', async () => {
    lab = await startLab();
    const dir = await tempDir();
    await lab.mintAndSeed([EMAIL], { expired: true });
    await revoke(lab, (await lab.readStore()).users[EMAIL]!.refresh_token);
    const failing = await lab.cli(['refresh', '--all'], {
      BOX_QC_NOTIFY_COMMAND: recorder(dir, 'echo "nope $BOX_QC_EVENT" >&2; exit 1'),
    });
    expect(failing.code, describeResult(failing)).toBe(4);
    expect(failing.stderr).toMatch(/notification .*failed/);
    const hanging = await lab.cli(['refresh', '--all', '--notify-command', recorder(dir, 'sleep 30')], {
      BOX_QC_NOTIFY_TIMEOUT_MS: '500',
    });
    expect(hanging.code, describeResult(hanging)).toBe(4);
    expect(hanging.stderr).toMatch(/notification .*(timed out|failed)/);
    const ok = await lab.cli(['refresh', '--all'], { BOX_QC_NOTIFY_COMMAND: recorder(dir) });
    expect(ok.code, describeResult(ok)).toBe(4);
    expect(ok.stderr).not.toMatch(/notification/);
    await lab.cli(['refresh', '--all'], { BOX_QC_NOTIFY_COMMAND: recorder(dir) });
    const seen = await events(dir);
    expect(seen.map((e) => e.event)).toEqual(['connection.dead', 'connection.dead', 'connection.dead']);
    expect(new Set(seen.map((e) => e.id)).size).toBe(1);
  }, 120_000);

  it('degraded after a 5xx run, then recovered; the run without a problem is silent with --quiet', async () => {
    lab = await startLab();
    const dir = await tempDir();
    await lab.mintAndSeed([EMAIL], { expired: true });
    const notify = { BOX_QC_NOTIFY_COMMAND: recorder(dir) };
    lab.emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 503, times: 2 });
    const first = await lab.cli(['refresh', '--all', '--quiet'], notify);
    expect(first.code, describeResult(first)).toBe(75);
    expect(first.stdout).toBe('');
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    expect(first.stderr).toContain(EMAIL);
    const second = await lab.cli(['refresh', '--all', '--quiet'], notify);
    expect(second.code, describeResult(second)).toBe(75);
    const degraded = (await lab.readStore()).users[EMAIL]!.health;
    expect(degraded).toMatchObject({ state: 'degraded', failures: 2, reason: 'box_5xx' });
    const status = await lab.cli(['status', '--email', EMAIL]);
    expect(status.stdout).toMatch(/state +degraded since \S+/);
    const third = await lab.cli(['refresh', '--all', '--quiet'], notify);
    expect(third.code, describeResult(third)).toBe(0);
    expect(`${third.stdout}${third.stderr}`).toBe('');
    const seen = await events(dir);
    expect(seen.map((e) => [e.event, e.state])).toEqual([
      ['connection.degraded', 'degraded'],
      ['connection.recovered', 'healthy'],
    ]);
    expect(seen[0]!.reason).toBe('box_5xx');
    const json = await lab.cli(['status', '--json']);
    expect(JSON.parse(json.stdout).users[0].health).toMatchObject({ state: 'healthy' });
  }, 120_000);

  it('expiring: temporary failures while the refresh token is older than 50 days', async () => {
    lab = await startLab();
    const dir = await tempDir();
    await lab.mintAndSeed([EMAIL], { expired: true });
    await expireAccess(lab, { refresh_token_issued_at: iso(Date.now() - 55 * 86_400_000) });
    lab.emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 429 });
    const r = await lab.cli(['refresh', '--all'], { BOX_QC_NOTIFY_COMMAND: recorder(dir) });
    expect(r.code, describeResult(r)).toBe(75);
    const seen = await events(dir);
    expect(seen.map((e) => [e.event, e.state, e.reason])).toEqual([
      ['connection.expiring', 'expiring', 'rate_limited'],
    ]);
  }, 60_000);

  it('webhook: the event POSTed with a verifiable X-Box-QC-Signature; no secret in it', async () => {
    lab = await startLab();
    const received: Array<{ body: string; signature: string | undefined; type: string | undefined }> = [];
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        received.push({
          body,
          signature: req.headers['x-box-qc-signature'] as string | undefined,
          type: req.headers['content-type'],
        });
        res.writeHead(received.length === 1 ? 500 : 204).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    await lab.mintAndSeed([EMAIL], { expired: true });
    const seeded = await lab.readStore();
    await revoke(lab, seeded.users[EMAIL]!.refresh_token);
    const hook = { BOX_QC_NOTIFY_URL: `http://127.0.0.1:${port}/hook` };
    const missing = await lab.cli(['refresh', '--all'], hook);
    expect(missing.code, describeResult(missing)).toBe(2);
    expect(missing.stderr).toContain('BOX_QC_NOTIFY_SECRET');
    const plain = await lab.cli(['refresh', '--all'], {
      BOX_QC_NOTIFY_URL: 'http://hooks.example.com/x',
      BOX_QC_NOTIFY_SECRET: NOTIFY_SECRET,
    });
    expect(plain.code, describeResult(plain)).toBe(2);
    const env = { ...hook, BOX_QC_NOTIFY_SECRET: NOTIFY_SECRET };
    const first = await lab.cli(['refresh', '--all'], env); // the receiver answers 500: kept pending
    expect(first.code, describeResult(first)).toBe(4);
    const second = await lab.cli(['refresh', '--all'], env);
    expect(second.code, describeResult(second)).toBe(4);
    await lab.cli(['refresh', '--all'], env);
    expect(received).toHaveLength(2);
    for (const r of received) {
      expect(r.type).toMatch(/^application\/json/);
      const mac = createHmac('sha256', NOTIFY_SECRET).update(r.body).digest('hex');
      expect(r.signature).toBe(`sha256=${mac}`);
      for (const s of secretsOf(lab, [seeded])) expect(r.body.includes(s)).toBe(false);
    }
    expect(received[0]!.body).toBe(received[1]!.body);
    expect(JSON.parse(received[1]!.body)).toMatchObject({ event: 'connection.dead', email: EMAIL });
  }, 60_000);
});
