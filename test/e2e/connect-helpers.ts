/**
 * Shared by the connect/status/disconnect end-to-end tests: a temp store, the emulator's env, a scripted
 * "browser" (an HTTP client that loads the consent page, submits the form and returns the redirect), and the
 * secret-hygiene assertion every test runs on its captured output (issue 5 "Done when").
 */
import { expect } from 'vitest';
import { mkdtemp, readFile, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../src/emulator/index.js';
import { describeResult, type CliResult } from '../helpers/run-cli.js';
import { iso } from '../helpers/time.js';

export const EMAIL = 'alice@example.com';
export const URL_RE = /^(http:\/\/127\.0\.0\.1:\d+\/api\/oauth2\/authorize\?\S+)$/m;

export async function tempStore(): Promise<{ dir: string; storePath: string }> {
  const root = await mkdtemp(join(tmpdir(), 'boxqc-e2e-'));
  const dir = join(root, 'box-qc');
  return { dir, storePath: join(dir, 'tokens.json') };
}

export function cliEnv(emu: Emulator, storePath: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...emu.env(), BOX_QC_STORE: storePath, BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback', ...extra };
}

/** Resolves with the authorize URL once the child printed it on stderr. */
export async function waitForUrl(stderr: () => string, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = URL_RE.exec(stderr());
    if (m) return m[1]!;
    if (Date.now() > until) throw new Error(`no authorize URL on stderr:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Plays the browser up to Box's redirect: consent page, then "Grant access" or "Deny". Returns the Location. */
export async function consent(authorizeUrl: string, decision: 'grant' | 'deny' = 'grant'): Promise<string> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1];
  const login = /name="login" value="([^"]+)"/.exec(html)?.[1];
  expect(requestId, html).toBeDefined();
  const action = new URL('/api/oauth2/authorize', authorizeUrl);
  const answer = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request_id: requestId!, login: login ?? EMAIL, decision }),
  });
  expect(answer.status).toBe(302);
  return answer.headers.get('location')!;
}

export interface StoredUserJson {
  access_token: string;
  refresh_token: string;
  [k: string]: unknown;
}

export async function readStore(
  storePath: string,
): Promise<{ version: number; users: Record<string, StoredUserJson> }> {
  return JSON.parse(await readFile(storePath, 'utf8'));
}

/** Writes a store (0600 in 0700) holding the given users, as an earlier connect would have. */
export async function writeStore(storePath: string, users: Record<string, Record<string, unknown>>): Promise<void> {
  const dir = join(storePath, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeFile(storePath, `${JSON.stringify({ version: 1, users }, null, 2)}\n`, { mode: 0o600 });
}

export function userRecord(
  tokens: { access_token: string; refresh_token: string },
  now = Date.now(),
  extra: Record<string, unknown> = {},
) {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    access_token_expires_at: iso(now + 3_000_000),
    connected_at: iso(now - 86_400_000),
    updated_at: iso(now),
    refresh_token_issued_at: iso(now),
    box_user_id: '11111',
    box_user_login: EMAIL,
    box_user_name: 'Alice Example',
    generation: 1,
    ...extra,
  };
}

/**
 * No token, code or client secret anywhere in the captured output; the state only inside the authorize URL
 * line that connect must print (issue 5 "Done when", reliability.md T13).
 */
export function assertNoSecrets(r: CliResult, secrets: Array<string | undefined>, state?: string): void {
  const all = `${r.stdout}\n${r.stderr}`;
  for (const s of secrets) {
    if (s === undefined || s === '') continue;
    expect(all.includes(s), `secret ${s.slice(0, 6)}… leaked\n${describeResult(r)}`).toBe(false);
  }
  if (state) {
    const outside = all
      .split('\n')
      .filter((l) => !/\/api\/oauth2\/authorize\?/.test(l))
      .join('\n');
    expect(outside.includes(state), `state leaked outside the authorize URL\n${describeResult(r)}`).toBe(false);
  }
}

export function stateOf(authorizeUrl: string): string {
  return new URL(authorizeUrl).searchParams.get('state')!;
}

export function codeOf(location: string): string | undefined {
  return new URL(location).searchParams.get('code') ?? undefined;
}

export const CLIENT_SECRET = 'emulator-client-secret';
