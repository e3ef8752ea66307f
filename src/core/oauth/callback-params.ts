/**
 * Deciding what a callback query means, state first (reliability.md C2, C3): `code` or `error` count only
 * after the state verified. Also parses the full redirected URL a person pastes in the headless flows.
 */
import { UsageError } from '../../errors.js';
import type { CallbackOutcome } from './loopback-listener.js';

/** Box's `error` values are short ASCII codes; anything else is replaced rather than shown (STYLE.md). */
export function safeErrorCode(raw: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(raw) ? raw : 'unknown_error';
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  return all.length === 1 ? all[0] : undefined;
}

/**
 * `verify` throws when the state is bad. A repeated parameter is refused outright: which copy a server
 * reads differs between parsers, the classic parameter-pollution trick.
 */
export async function classifyCallback(
  params: URLSearchParams,
  verify: (state: string | undefined) => Promise<unknown>,
): Promise<CallbackOutcome | undefined> {
  await verify(single(params, 'state'));
  if (params.has('error')) {
    const error = single(params, 'error');
    return error === undefined ? undefined : { kind: 'error', error: safeErrorCode(error) };
  }
  const code = single(params, 'code');
  if (code === undefined || code === '' || code.length > 1024) return undefined;
  return { kind: 'code', code };
}

/**
 * The address the browser was sent to (`http://127.0.0.1:<port>/callback?code=...&state=...`). The redirect
 * to 127.0.0.1 fails on the laptop that ran the browser; the person pastes the address bar. Only the query
 * matters, but the path must be ours so that a random URL is not mistaken for a callback.
 */
export function parseRedirectedUrl(raw: string, redirectUri: URL): URLSearchParams {
  const text = raw.trim().replace(/^['"<]+|['">]+$/g, '');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('--redirected-url is not a URL: paste the full address the browser was sent to', {
      code: 'E_REDIRECTED_URL',
    });
  }
  if (url.pathname !== redirectUri.pathname || !url.searchParams.has('state')) {
    throw new UsageError(
      `--redirected-url is not a box-qc callback (expected a ${redirectUri.pathname}?code=...&state=... address)`,
      {
        code: 'E_REDIRECTED_URL',
      },
    );
  }
  return url.searchParams;
}

/** For the stdin paste: a line that looks like a callback URL, else undefined (ignored with a note). */
export function tryParseRedirectedUrl(line: string, redirectUri: URL): URLSearchParams | undefined {
  try {
    return parseRedirectedUrl(line, redirectUri);
  } catch {
    return undefined;
  }
}
