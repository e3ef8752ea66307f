/** HTML pages for the authorize endpoint: Box shows HTML, never JSON, there (box-api.md §1). */
import { escapeHtml, html, type Reply } from './reply.js';
import type { EmulatorUser } from './options.js';

const STYLE = 'body{font-family:sans-serif;max-width:32em;margin:4em auto}button{margin-right:1em;padding:.5em 1.5em}';

export function consentPage(requestId: string, user: EmulatorUser, clientId: string): Reply {
  const id = escapeHtml(requestId);
  return html(
    200,
    `<!doctype html><html><head><meta charset="utf-8"><title>Box | Grant access</title><style>${STYLE}</style></head>
<body><h1>Grant access to Box</h1>
<p>Signed in as <strong class="user-name">${escapeHtml(user.name)}</strong> (<span class="user-login">${escapeHtml(user.login)}</span>).</p>
<p>The application <code>${escapeHtml(clientId)}</code> would like to read and write all files and folders stored in Box.</p>
<form method="post" action="/api/oauth2/authorize">
<input type="hidden" name="request_id" value="${id}">
<input type="hidden" name="login" value="${escapeHtml(user.login)}">
<button type="submit" name="decision" value="grant" id="consent_accept_button">Grant access</button>
<button type="submit" name="decision" value="deny" id="consent_reject_button">Deny</button>
</form><p><small>Box emulator (box-qc)</small></p></body></html>`,
  );
}

export function errorPage(status: number, code: string, message: string): Reply {
  return html(
    status,
    `<!doctype html><html><head><meta charset="utf-8"><title>Box | Error</title><style>${STYLE}</style></head>
<body><h1>Something went wrong</h1><p class="error-code">${escapeHtml(code)}</p><p>${escapeHtml(message)}</p>
<p><small>Box emulator (box-qc)</small></p></body></html>`,
  );
}
