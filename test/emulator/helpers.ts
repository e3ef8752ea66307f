/** Small HTTP helpers for the emulator tests (global fetch; redirects never followed). */
import { createHash } from 'node:crypto';
import type { Emulator } from '../../src/emulator/index.js';

export const CLIENT = { client_id: 'emulator-client-id', client_secret: 'emulator-client-secret' };
export const REDIRECT = 'http://127.0.0.1:53117/callback';

export function postForm(
  emu: Emulator,
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return fetch(`${emu.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
    redirect: 'manual',
  });
}

export function authorizeUrl(emu: Emulator, params: Record<string, string | undefined> = {}): string {
  const url = new URL(emu.authorizeUrl);
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLIENT.client_id,
    redirect_uri: REDIRECT,
    state: 'st-1',
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

export function get(url: string, token?: string) {
  return fetch(url, { redirect: 'manual', headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** Runs authorize (the emulator must auto-approve) and returns the code from the redirect. */
export async function getCode(emu: Emulator, params: Record<string, string | undefined> = {}): Promise<string> {
  const res = await get(authorizeUrl(emu, params));
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}`);
  const code = new URL(res.headers.get('location')!).searchParams.get('code');
  if (!code) throw new Error('no code in redirect');
  return code;
}

export interface TokenBody {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
  restricted_to: unknown[];
}

export async function exchange(emu: Emulator, code: string, extra: Record<string, string> = {}) {
  return postForm(emu, '/oauth2/token', { grant_type: 'authorization_code', code, ...CLIENT, ...extra });
}

export async function refresh(emu: Emulator, refreshToken: string) {
  return postForm(emu, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...CLIENT });
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
