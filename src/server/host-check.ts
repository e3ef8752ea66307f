/**
 * Which name a request was sent to. The public URL's host (what the reverse proxy forwards, or what the
 * browser used with TLS) and the listen address (health checks and metrics from the machine or its load
 * balancer) are the only two; anything else is 421 (DNS rebinding, a misrouted or forged Host). A wildcard
 * listen (0.0.0.0, ::) is reached at any of the machine's own addresses: each of them, with the port, counts
 * as the listen address (a load balancer's health check names the instance's IP).
 */
import { networkInterfaces } from 'node:os';
import { formatListen } from './listen-address.js';
import type { ListenAddress } from './types.js';

export type HostKind = 'public' | 'listen';

const DEFAULT_PORTS: Record<string, string> = { 'https:': '443', 'http:': '80' };

const WILDCARDS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** The machine's own addresses (v4 for 0.0.0.0; both for ::, which takes v4 too on Linux). */
export function localAddresses(wildcard: string): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return all.filter((a) => wildcard === '::' || a.family === 'IPv4').map((a) => a.address.toLowerCase());
}

export function hostMatcher(
  publicUrl: URL,
  listen: ListenAddress,
  ownAddresses: (wildcard: string) => string[] = localAddresses,
): (host: string | undefined) => HostKind | undefined {
  const pub = new Set([publicUrl.host.toLowerCase()]);
  const defaultPort = DEFAULT_PORTS[publicUrl.protocol];
  // URL.host omits a default port; a client may still send it.
  if (publicUrl.port === '' && defaultPort) pub.add(`${publicUrl.hostname.toLowerCase()}:${defaultPort}`);
  const own = new Set([formatListen(listen)]);
  // `localhost` is served on both loopbacks (http-server.ts): each of its names with the port.
  if (listen.name !== undefined) own.add(`${listen.name}:${listen.port}`).add(`[::1]:${listen.port}`);
  if (WILDCARDS.has(listen.host))
    for (const a of ownAddresses(listen.host)) own.add(formatListen({ host: a, port: listen.port }));
  return (host) => {
    if (host === undefined) return undefined;
    const h = host.trim().toLowerCase();
    if (own.has(h)) return 'listen';
    if (pub.has(h)) return 'public';
    return undefined;
  };
}
