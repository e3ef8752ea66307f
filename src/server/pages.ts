/**
 * Every answer serve gives: tiny static HTML (no script, no style, so the CSP can forbid everything), the
 * headers every response carries, and the one escaping function for anything echoed. Invite tokens travel in
 * the path of /connect/<token>: `Referrer-Policy: no-referrer` keeps them out of the Referer Box would see.
 */
import { STATUS_CODES } from 'node:http';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Frame-Options': 'DENY',
};

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function page(status: number, title: string, text: string, headers: Record<string, string> = {}): Reply {
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>\n`;
  return { status, headers: { 'Content-Type': 'text/html; charset=utf-8', ...headers }, body };
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply {
  return { status, headers: { 'Content-Type': contentType }, body };
}

/** A plain status page: its title is the reason phrase, nothing from the request. */
export function statusPage(status: number, headers: Record<string, string> = {}): Reply {
  const reason = STATUS_CODES[status] ?? 'Error';
  return page(status, reason, `${reason}.`, headers);
}

/** The one page for every link that cannot connect: unknown, expired, used, revoked or malformed alike. */
export const GONE_PAGE = page(410, 'Link not usable', 'This link cannot be used; ask for a new link.');

export function connectedPage(email: string, login: string): Reply {
  return page(200, 'Connected', `Connected ${email} to Box as ${login}. You can close this tab.`);
}

export const DENIED_PAGE = page(
  403,
  'Not connected',
  'Box access was not granted, so nothing was connected. Open the link again to retry.',
);

export const BAD_STATE_PAGE = page(
  400,
  'Not connected',
  'This sign-in could not be matched to a usable link (it may be old or already used); ask for a new link.',
);

export function failedPage(message: string): Reply {
  return page(502, 'Not connected', `The connection could not be completed: ${message}`);
}

/** Headers of a raw response written straight to a socket (client errors, before any request object). */
export function rawResponse(status: number): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) lines.push(`${k}: ${v}`);
  lines.push('Content-Length: 0', 'Connection: close', '', '');
  return lines.join('\r\n');
}
