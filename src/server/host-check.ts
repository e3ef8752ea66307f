/**
 * Which name a request was sent to. The public URL's host (what the reverse proxy forwards, or what the
 * browser used with TLS) and the listen address (health checks and metrics from the machine or its load
 * balancer) are the only two; anything else is 421 (DNS rebinding, a misrouted or forged Host).
 */
import { formatListen } from './listen-address.js';
import type { ListenAddress } from './types.js';

export type HostKind = 'public' | 'listen';

const DEFAULT_PORTS: Record<string, string> = { 'https:': '443', 'http:': '80' };

export function hostMatcher(publicUrl: URL, listen: ListenAddress): (host: string | undefined) => HostKind | undefined {
  const pub = new Set([publicUrl.host.toLowerCase()]);
  const defaultPort = DEFAULT_PORTS[publicUrl.protocol];
  // URL.host omits a default port; a client may still send it.
  if (publicUrl.port === '' && defaultPort) pub.add(`${publicUrl.hostname.toLowerCase()}:${defaultPort}`);
  const own = formatListen(listen);
  return (host) => {
    if (host === undefined) return undefined;
    const h = host.trim().toLowerCase();
    if (h === own) return 'listen';
    if (pub.has(h)) return 'public';
    return undefined;
  };
}
