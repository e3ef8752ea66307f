/**
 * The pages the loopback listener answers with. They are fixed texts: nothing from the request is reflected
 * (reliability.md C4, C5, C10), and escapeHtml guards the one place a caller could pass text. Headers per
 * issue 5 step 5: a CSP that allows only the hashed inline script that closes the tab.
 */
import { createHash } from 'node:crypto';

export type PageKind =
  'success' | 'denied' | 'bad-request' | 'not-found' | 'method-not-allowed' | 'too-large' | 'failed';

const CLOSE_SCRIPT = 'setTimeout(function(){window.close()},1500);';
const SCRIPT_HASH = `sha256-${createHash('sha256').update(CLOSE_SCRIPT, 'utf8').digest('base64')}`;

export const CALLBACK_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': `default-src 'none'; script-src '${SCRIPT_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

interface PageSpec {
  status: number;
  title: string;
  text: string;
  close: boolean;
}

const PAGES: Record<PageKind, PageSpec> = {
  success: {
    status: 200,
    // Answered before the code exchange (the terminal says whether it connected): no claim of a connection here.
    title: 'box-qc: authorization received',
    text: 'box-qc received the authorization. You can close this tab and return to the terminal.',
    close: true,
  },
  denied: {
    status: 200,
    title: 'box-qc: access denied',
    text: 'Access was not granted, so box-qc is not connected. You can close this tab; the terminal shows what to do next.',
    close: true,
  },
  failed: {
    status: 200,
    title: 'box-qc: not connected',
    text: 'box-qc could not complete the connection. You can close this tab; the terminal shows what happened.',
    close: true,
  },
  'bad-request': { status: 400, title: 'Bad request', text: 'This request was not accepted.', close: false },
  'not-found': { status: 404, title: 'Not found', text: 'Not found.', close: false },
  'method-not-allowed': { status: 405, title: 'Method not allowed', text: 'Method not allowed.', close: false },
  'too-large': { status: 431, title: 'Request too large', text: 'Request too large.', close: false },
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface RenderedPage {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function renderPage(kind: PageKind): RenderedPage {
  const spec = PAGES[kind];
  const script = spec.close ? `<script>${CLOSE_SCRIPT}</script>` : '';
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(spec.title)}</title></head>` +
    `<body><h1>${escapeHtml(spec.title)}</h1><p>${escapeHtml(spec.text)}</p>${script}</body></html>\n`;
  const headers: Record<string, string> = {
    ...CALLBACK_PAGE_HEADERS,
    'Content-Length': String(Buffer.byteLength(body)),
  };
  if (kind === 'method-not-allowed') headers.Allow = 'GET';
  return { status: spec.status, headers, body };
}
