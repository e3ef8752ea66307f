/**
 * Route handlers return a Reply instead of writing to the socket, so the fault layer can delay, drip, stall or
 * drop it after the handler has committed its side effects (the lost-response case, reliability.md).
 */
import { randomBytes } from 'node:crypto';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** Several parts for big pages: small strings stay in V8's young generation (memory.test.ts). */
  body: string | string[];
}

const HELP_URL = 'http://developers.box.com/docs/#errors';

export function newRequestId(): string {
  // Box request ids look like "sp1j81fre5nfimh9": lower-case alphanumerics.
  return randomToken(16).toLowerCase();
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Box tokens are 32 alphanumeric characters. Unbiased: 62 * 4 = 248 <= 256, reject the rest. */
export function randomToken(length = 32): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALNUM[byte % 62]!;
      if (out.length === length) break;
    }
  }
  return out;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** OAuth2Error (box-api.md §2): `{error, error_description}`; token responses are never cached. */
export function oauthError(status: number, error: string, description?: string): Reply {
  const body: Record<string, string> = { error };
  if (description !== undefined) body.error_description = description;
  return json(status, body, { 'Cache-Control': 'no-store' });
}

export interface ContextError {
  reason: string;
  name: string;
  message: string;
}

/** ClientError (box-api.md §6) with the headers seen on real JSON errors. */
export function boxError(
  requestId: string,
  status: number,
  code: string,
  message: string,
  errors?: ContextError[],
  headers: Record<string, string> = {},
): Reply {
  return json(
    status,
    {
      type: 'error',
      status,
      code,
      context_info: errors ? { errors } : null,
      help_url: HELP_URL,
      message,
      request_id: requestId,
    },
    { 'Cache-Control': 'no-cache, no-store', ...headers },
  );
}

/** JSON of `{entries: [...], ...rest}` in parts of `per` entries each, byte-identical to JSON.stringify. */
export function jsonPage(entries: unknown[], rest: Record<string, unknown>, per = 50): Reply {
  const parts: string[] = [];
  for (let i = 0; i < entries.length; i += per) {
    const chunk = entries
      .slice(i, i + per)
      .map((e) => JSON.stringify(e))
      .join(',');
    parts.push(i === 0 ? chunk : `,${chunk}`);
  }
  const tail = JSON.stringify(rest).slice(1);
  parts.unshift('{"entries":[');
  parts.push(tail === '}' ? ']}' : `],${tail}`);
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: parts };
}

export function empty(status: number, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: '' };
}

export function html(status: number, body: string): Reply {
  return { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body };
}

export function redirect(location: string): Reply {
  return { status: 302, headers: { Location: location, 'Cache-Control': 'no-store' }, body: '' };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
