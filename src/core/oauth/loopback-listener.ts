/**
 * The one-shot loopback listener for the OAuth redirect (RFC 8252 §7.3, §8.3; reliability.md §4 and C1-C10).
 *
 * - Binds the redirect URI's loopback literal only (127.0.0.1 or ::1; `localhost` -> 127.0.0.1), never all
 *   interfaces (C1). A taken port is a usage error naming --port.
 * - Only GET on the callback path with the exact `Host` we bound counts (C8, DNS rebinding); anything else
 *   gets a generic 400/404/405/431 page and the listener keeps waiting (C3), up to a bad-request budget.
 * - `accept` decides, state first (C2, C3), whether a request is the callback. The first accepted callback
 *   wins: `Connection: close`, then every socket is closed (C6).
 * - headersTimeout/requestTimeout cut slow clients (C7); the caller owns the overall timeout via AbortSignal.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { UsageError, ConfigError, OperationError } from '../../errors.js';
import { renderPage, type PageKind } from './callback-page.js';
import { redirectUriWithPort } from './authorize-url.js';

export type CallbackOutcome = { kind: 'code'; code: string } | { kind: 'error'; error: string };

/** Returns the outcome for a request whose state verified, or undefined to refuse it (generic 400). */
export type AcceptCallback = (params: URLSearchParams) => Promise<CallbackOutcome | undefined>;

export interface LoopbackListenerOptions {
  redirectUri: URL;
  /** --port: overrides the redirect URI's port (0 = any free port). */
  port?: number | undefined;
  accept: AcceptCallback;
  maxBadRequests?: number;
  /** Debug log: request method, path and why it was refused. Never the query. */
  log?: (line: string) => void;
}

export interface LoopbackListener {
  /** The literal bound: 127.0.0.1 or ::1. */
  readonly address: string;
  readonly port: number;
  /** The redirect URI with the bound port, for the authorize URL and the token request. */
  readonly redirectUri: string;
  /** First accepted callback (from the browser or `offer`). Rejects on abort or abuse. Closes the listener. */
  wait(signal: AbortSignal): Promise<CallbackOutcome>;
  /** Feeds a pasted redirected URL's query through the same checks. True when it was accepted. */
  offer(params: URLSearchParams): Promise<boolean>;
  close(): Promise<void>;
}

const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

export function bindAddressFor(redirectUri: URL): string {
  const host = redirectUri.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === '127.0.0.1' || host === 'localhost') return '127.0.0.1';
  if (host === '::1') return '::1';
  throw new ConfigError('BOX_REDIRECT_URI must use 127.0.0.1, [::1] or localhost', { code: 'E_CONFIG_REDIRECT_URI' });
}

export async function startLoopbackListener(opts: LoopbackListenerOptions): Promise<LoopbackListener> {
  const address = bindAddressFor(opts.redirectUri);
  const wantedPort = opts.port ?? (opts.redirectUri.port === '' ? 80 : Number(opts.redirectUri.port));
  const maxBad = opts.maxBadRequests ?? 50;
  const log = opts.log ?? (() => {});
  let settled = false;
  let bad = 0;
  let resolveOutcome!: (o: CallbackOutcome) => void;
  let rejectOutcome!: (e: unknown) => void;
  const outcome = new Promise<CallbackOutcome>((res, rej) => {
    resolveOutcome = res;
    rejectOutcome = rej;
  });
  outcome.catch(() => {});

  const server = createServer({
    maxHeaderSize: 16 * 1024,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
    keepAliveTimeout: 1_000,
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const shutdown = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    });

  const countBad = (reason: string) => {
    bad += 1;
    log(`callback listener refused a request (${reason})`);
    if (bad >= maxBad && !settled) {
      settled = true;
      rejectOutcome(new OperationError('E_CALLBACK_FLOOD', `the callback listener received ${bad} bad requests; stopped waiting`, {
        hint: 'something on this machine is sending requests to the callback port; run connect again',
      }));
    }
  };

  let port = 0;
  const expectedHosts = hostHeaderForms(opts.redirectUri, () => port);
  const callbackPath = opts.redirectUri.pathname;

  const send = (res: ServerResponse, kind: PageKind, close = true) => {
    const page = renderPage(kind);
    if (close) page.headers.Connection = 'close';
    res.writeHead(page.status, page.headers);
    res.end(page.body);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    if (settled) return send(res, 'bad-request');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!expectedHosts().includes(host)) return countBad('host'), send(res, 'bad-request');
    const raw = req.url ?? '';
    if (!raw.startsWith('/') || raw.length > 8 * 1024) return countBad('target'), send(res, raw.length > 8 * 1024 ? 'too-large' : 'bad-request');
    const target = new URL(raw, 'http://callback.invalid');
    if (target.pathname !== callbackPath) return countBad('path'), send(res, 'not-found');
    if (req.method !== 'GET') return countBad('method'), send(res, 'method-not-allowed');
    const result = await tryAccept(target.searchParams);
    if (result === undefined) return countBad('state'), send(res, 'bad-request');
    send(res, result.kind === 'code' ? 'success' : 'denied');
    // End the response before closing: the browser must see the page (STYLE.md "OAuth loopback").
    res.once('finish', () => void shutdown());
  };

  // One place decides, for the browser and for a pasted URL alike; the first acceptance wins.
  const tryAccept = async (params: URLSearchParams): Promise<CallbackOutcome | undefined> => {
    let result: CallbackOutcome | undefined;
    try {
      result = await opts.accept(params);
    } catch {
      result = undefined;
    }
    if (result === undefined || settled) return undefined;
    settled = true;
    resolveOutcome(result);
    return result;
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) send(res, 'bad-request');
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    countBad(err.code ?? 'client error');
  });

  port = await listen(server, address, wantedPort, opts.port !== undefined);
  const redirectUri = redirectUriWithPort(opts.redirectUri, port);

  return {
    address,
    port,
    redirectUri,
    async wait(signal: AbortSignal): Promise<CallbackOutcome> {
      const aborted = new Promise<never>((_, reject) => {
        const onAbort = () => reject(signal.reason ?? new Error('aborted'));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([outcome, aborted]);
      } finally {
        settled = true;
        await shutdown();
      }
    },
    async offer(params: URLSearchParams): Promise<boolean> {
      if (settled) return false;
      const result = await tryAccept(params);
      if (result === undefined) countBad('pasted url');
      return result !== undefined;
    },
    close: shutdown,
  };
}

function hostHeaderForms(redirectUri: URL, port: () => number): () => string[] {
  const host = redirectUri.hostname.toLowerCase();
  return () => [`${host}:${port()}`];
}

function listen(server: ReturnType<typeof createServer>, host: string, port: number, fromFlag: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        const what = err.code === 'EADDRINUSE' ? 'is already in use' : 'needs privileges to bind';
        reject(new UsageError(`port ${port} on ${host} ${what}`, {
          code: 'E_PORT_IN_USE',
          hint: fromFlag ? 'pick another port with --port <n> (0 = any free port)' : 'pass --port <n> (0 = any free port), or change BOX_REDIRECT_URI',
          details: { port, host },
          cause: err,
        }));
      } else {
        reject(new ConfigError(`cannot listen on ${host}:${port} (${err.code ?? 'error'})`, { code: 'E_LISTEN', cause: err }));
      }
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: never share the port with a cluster sibling; ipv6Only: ::1 must not accept IPv4.
    server.listen({ host, port, exclusive: true, ipv6Only: host === '::1' });
  });
}
