/**
 * The four routes, as a function from a parsed request to a Reply and the route pattern the access log
 * names (never the token, the query or anything else from the request). The invite token is checked for its
 * shape before the flow sees it: a malformed one gets the same generic page as an unknown one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  BAD_STATE_PAGE,
  DENIED_PAGE,
  GONE_PAGE,
  connectedPage,
  failedPage,
  statusPage,
  text,
  type Reply,
} from './pages.js';
import type { HostKind } from './host-check.js';
import type { FinishResult, InviteFlowHandlers } from './types.js';

export interface RouteDeps {
  flow: InviteFlowHandlers;
  /** true when the store can be read (store.read() did not throw). */
  healthy(): Promise<boolean>;
  /** The Prometheus text for /metrics; without it /metrics is 404. */
  metrics?: (() => Promise<string>) | undefined;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
  /** Wraps a callback so a stop signal waits for its code exchange and save (deps.interrupts.critical). */
  critical?: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;
}

export interface RouteRequest {
  /** The path with the public URL's path prefix removed (a proxy may or may not strip it). */
  path: string;
  query: string;
  hostKind: HostKind;
  authorization: string | undefined;
  /** The peer is on this machine (127.0.0.0/8, ::1): a scraper next to serve, not the internet. */
  fromLoopback: boolean;
}

export interface Routed {
  route: string;
  reply: () => Promise<Reply>;
}

/** Invite tokens are base64url; anything else cannot be one. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{8,256}$/;

/** GET /connect/<token>: the one route with a parameter. */
const CONNECT_PATH = /^\/connect\/([^/]*)$/;

/**
 * The route pattern of a path (the public URL's prefix removed), for the access log of a request refused before
 * routing (a wrong method or Host): never the path itself, which may hold a token.
 */
export function routePattern(path: string): string {
  if (CONNECT_PATH.test(path)) return '/connect/:token';
  return path === '/callback' || path === '/healthz' || path === '/metrics' ? path : '-';
}

export function routeRequest(deps: RouteDeps, req: RouteRequest): Routed {
  const connect = CONNECT_PATH.exec(req.path);
  if (connect) {
    const token = connect[1]!;
    return {
      route: '/connect/:token',
      reply: async () => {
        if (!TOKEN_SHAPE.test(token)) return GONE_PAGE;
        const r = await deps.flow.start(token);
        return r.kind === 'redirect' ? { status: 302, headers: { Location: r.location }, body: '' } : GONE_PAGE;
      },
    };
  }
  if (req.path === '/callback') {
    return {
      route: '/callback',
      reply: async () => {
        const query = new URLSearchParams(req.query);
        const critical = deps.critical ?? ((fn) => fn());
        return finishReply(await critical(() => deps.flow.finish(query)));
      },
    };
  }
  if (req.path === '/healthz') {
    return {
      route: '/healthz',
      reply: async () => ((await deps.healthy()) ? text(200, 'ok\n') : text(503, 'store unavailable\n')),
    };
  }
  // Every user's email and token ages: on the listen address only, and from this machine unless a bearer token
  // guards it (a wildcard listen makes every address of the host "the listen address": review finding 3).
  if (
    req.path === '/metrics' &&
    deps.metrics &&
    req.hostKind === 'listen' &&
    (req.fromLoopback || deps.metricsToken !== undefined)
  ) {
    const metrics = deps.metrics;
    return {
      route: '/metrics',
      reply: async () => {
        if (deps.metricsToken !== undefined && !bearerMatches(req.authorization, deps.metricsToken))
          return statusPage(401, { 'WWW-Authenticate': 'Bearer' });
        return text(200, await metrics(), 'text/plain; version=0.0.4; charset=utf-8');
      },
    };
  }
  return { route: '-', reply: () => Promise.resolve(statusPage(404)) };
}

function finishReply(r: FinishResult): Reply {
  switch (r.kind) {
    case 'connected':
      return connectedPage(r.email, r.login);
    case 'denied':
      return DENIED_PAGE;
    case 'bad_state':
      return BAD_STATE_PAGE;
    case 'failed':
      return failedPage(r.message);
  }
}

/** Constant time over fixed-length digests, so neither the token's content nor its length leaks. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && m !== null;
}
