/**
 * `box-qc invite` end to end (issue 17): the link alone on stdout, --json, the 72 h default and the 30 d cap,
 * BOX_QC_PUBLIC_URL required (exit 2 naming it) but no Box client secret and no server, a new link revoking
 * the earlier pending one, --list never showing a link or hash, --revoke. The file never holds the token.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { tempStore } from './connect-helpers.js';

const PUBLIC = 'https://qc.example.com/box-qc';
const LINK_RE = /^https:\/\/qc\.example\.com\/box-qc\/connect\/([A-Za-z0-9_-]{43})\n$/;
let storePath: string;
let env: Record<string, string>;
beforeEach(async () => {
  storePath = (await tempStore()).storePath;
  // Deliberately no BOX_CLIENT_ID / BOX_CLIENT_SECRET / Box URL: making a link needs none of them.
  env = { BOX_QC_STORE: storePath, BOX_QC_PUBLIC_URL: `${PUBLIC}/` };
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hours = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 3_600_000;

describe('box-qc invite', () => {
  it('prints the link alone on stdout; the store keeps only its hash, pending, 72 h by default', async () => {
    const r = await runCli(['invite', '--email', 'Alice@Example.com'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    const m = LINK_RE.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const token = m![1]!;
    expect(r.stderr.includes(token)).toBe(false);
    expect(r.stderr).toContain('alice@example.com');
    const text = await readFile(storePath, 'utf8');
    expect(text.includes(token)).toBe(false);
    const inv = JSON.parse(text).invites[sha256(token)];
    expect(inv).toMatchObject({ email: 'alice@example.com', state: 'pending' });
    expect(hours(inv.created_at, inv.expires_at)).toBe(72);
  });

  it('--json prints {ok, email, url, expires_at}; --expires sets the expiry', async () => {
    const r = await runCli(['--json', 'invite', '--email', 'a@x.com', '--expires', '2h'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(['ok', 'email', 'url', 'expires_at']);
    expect(doc.ok).toBe(true);
    expect(doc.email).toBe('a@x.com');
    expect(`${doc.url}\n`).toMatch(LINK_RE);
    expect(doc.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const inv = Object.values(JSON.parse(await readFile(storePath, 'utf8')).invites)[0] as Record<string, string>;
    expect(inv.expires_at).toBe(doc.expires_at);
    expect(hours(inv.created_at!, inv.expires_at!)).toBe(2);
  });

  it('accepts 30d and refuses 31d, 0s and garbage with exit 2, writing nothing', async () => {
    expect((await runCli(['invite', '--email', 'a@x.com', '--expires', '30d'], { env })).code).toBe(0);
    // 30 days in any unit (seconds take 7 digits).
    for (const good of ['2592000s', '43200m', '720h']) {
      const r = await runCli(['invite', '--email', 'a@x.com', '--expires', good], { env });
      expect(r.code, `${good}\n${describeResult(r)}`).toBe(0);
    }
    for (const bad of ['31d', '721h', '2592001s', '0s', 'soon']) {
      const r = await runCli(['invite', '--email', 'b@x.com', '--expires', bad], { env });
      expect(r.code, `${bad}\n${describeResult(r)}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/--expires/);
    }
    const doc = JSON.parse(await readFile(storePath, 'utf8'));
    expect(new Set(Object.values(doc.invites).map((i) => (i as { email: string }).email))).toEqual(
      new Set(['a@x.com']),
    );
  });

  it('without BOX_QC_PUBLIC_URL (or with a bad one) exits 2 naming it', async () => {
    for (const pub of [undefined, '', 'http://qc.example.com/box-qc', 'not a url', 'https://qc.example.com/?x=1']) {
      const r = await runCli(['invite', '--email', 'a@x.com'], { env: { ...env, BOX_QC_PUBLIC_URL: pub } });
      expect(r.code, `${pub}\n${describeResult(r)}`).toBe(2);
      expect(r.stderr).toContain('BOX_QC_PUBLIC_URL');
      expect(r.stdout).toBe('');
    }
    const j = await runCli(['--json', 'invite', '--email', 'a@x.com'], { env: { BOX_QC_STORE: storePath } });
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: 'E_CONFIG_PUBLIC_URL' } });
  });

  it('plain http is accepted for a loopback public URL', async () => {
    const r = await runCli(['invite', '--email', 'a@x.com'], {
      env: { ...env, BOX_QC_PUBLIC_URL: 'http://127.0.0.1:8080' },
    });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:8080\/connect\/[A-Za-z0-9_-]{43}\n$/);
  });

  it('a new invite revokes the earlier pending one for that email, and says so', async () => {
    const first = await runCli(['invite', '--email', 'a@x.com'], { env });
    const other = await runCli(['invite', '--email', 'b@x.com'], { env });
    const second = await runCli(['invite', '--email', 'a@x.com'], { env });
    expect(second.code, describeResult(second)).toBe(0);
    expect(second.stderr).toMatch(/revoked 1 earlier/);
    const doc = JSON.parse(await readFile(storePath, 'utf8'));
    const state = (r: { stdout: string }) => doc.invites[sha256(LINK_RE.exec(r.stdout)![1]!)].state;
    expect([state(first), state(other), state(second)]).toEqual(['revoked', 'pending', 'pending']);
  });

  it('--list shows pending invites (email, created, expires), never a link or hash; --json too', async () => {
    const a = await runCli(['invite', '--email', 'a@x.com'], { env });
    const token = LINK_RE.exec(a.stdout)![1]!;
    await runCli(['invite', '--email', 'b@x.com', '--expires', '1h'], { env });
    const list = await runCli(['invite', '--list'], { env });
    expect(list.code, describeResult(list)).toBe(0);
    const all = list.stdout + list.stderr;
    expect(all.includes(token)).toBe(false);
    expect(all.includes(sha256(token))).toBe(false);
    expect(all).not.toMatch(/\/connect\//);
    expect(list.stdout).toMatch(/a@x\.com\s+created \S+Z\s+expires \S+Z/);
    expect(list.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    const j = await runCli(['--json', 'invite', '--list'], { env });
    const doc = JSON.parse(j.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.invites.map((i: { email: string }) => i.email)).toEqual(['a@x.com', 'b@x.com']);
    expect(Object.keys(doc.invites[0]).sort()).toEqual(['created_at', 'email', 'expires_at']);
    expect(j.stdout.includes(token)).toBe(false);
  });

  it('--list on an empty or missing store says none, exit 0', async () => {
    const r = await runCli(['invite', '--list'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no pending invites/);
    const j = await runCli(['--json', 'invite', '--list'], { env });
    expect(JSON.parse(j.stdout)).toEqual({ ok: true, invites: [] });
  });

  it('--revoke --email revokes pending ones and says how many; --json too', async () => {
    await runCli(['invite', '--email', 'a@x.com'], { env });
    await runCli(['invite', '--email', 'b@x.com'], { env });
    const r = await runCli(['invite', '--revoke', '--email', 'a@x.com'], { env });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toMatch(/revoked 1 pending invite for a@x\.com/);
    const j = await runCli(['--json', 'invite', '--revoke', '--email', 'a@x.com'], { env });
    expect(JSON.parse(j.stdout)).toEqual({ ok: true, email: 'a@x.com', revoked: 0 });
    const list = JSON.parse((await runCli(['--json', 'invite', '--list'], { env })).stdout);
    expect(list.invites.map((i: { email: string }) => i.email)).toEqual(['b@x.com']);
  });

  it('refuses bad flag combinations with exit 2 before touching the store', async () => {
    for (const args of [
      ['invite'],
      ['invite', '--revoke'],
      ['invite', '--list', '--revoke'],
      ['invite', '--list', '--email', 'a@x.com'],
      ['invite', '--email', 'not-an-email'],
      ['invite', '--revoke', '--email', 'a@x.com', '--expires', '1h'],
    ]) {
      const r = await runCli(args, { env });
      expect(r.code, `${args.join(' ')}\n${describeResult(r)}`).toBe(2);
      expect(r.stdout).toBe('');
    }
    await expect(readFile(storePath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('--help shows examples', async () => {
    const r = await runCli(['invite', '--help'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/box-qc invite --email/);
    expect(r.stdout).toMatch(/--list/);
    expect(r.stdout).toMatch(/--revoke/);
  });
});
