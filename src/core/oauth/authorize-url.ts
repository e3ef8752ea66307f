/** The authorize URL (box-api.md §1): response_type, client_id, redirect_uri, state, scope, PKCE S256. */
import type { Pkce } from './pkce.js';

export interface AuthorizeUrlInput {
  authorizeUrl: URL;
  clientId: string;
  /** With the port actually bound (Box allows any port on loopback, RFC 8252 §7.3). */
  redirectUri: string;
  state: string;
  scope?: string | undefined;
  pkce: Pick<Pkce, 'challenge' | 'method'>;
}

export function buildAuthorizeUrl(input: AuthorizeUrlInput): string {
  const url = new URL(input.authorizeUrl.href);
  const params = url.searchParams;
  params.set('response_type', 'code');
  params.set('client_id', input.clientId);
  params.set('redirect_uri', input.redirectUri);
  params.set('state', input.state);
  if (input.scope !== undefined && input.scope.trim() !== '')
    params.set('scope', input.scope.trim().split(/\s+/).join(' '));
  params.set('code_challenge', input.pkce.challenge);
  params.set('code_challenge_method', input.pkce.method);
  return url.href;
}

/** The redirect URI with the bound port (redirect URI host literal and path unchanged). */
export function redirectUriWithPort(redirectUri: URL, port: number): string {
  const url = new URL(redirectUri.href);
  url.port = String(port);
  return url.href;
}
