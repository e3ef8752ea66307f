/**
 * The one-shot loopback listener for the OAuth redirect (RFC 8252 §7.3, §8.3; reliability.md §4 and C1-C10).
 *
 * - Binds the redirect URI's loopback literal only (127.0.0.1 or ::1; `localhost` -> 127.0.0.1), never all
 *   interfaces (C1). A taken port is a usage error naming --port.
 * - Only GET on the callback path with the exact `Host` we bound counts (C8, DNS rebinding); anything else
 *   gets a generic 400/404/405/431 page and the listener keeps waiting (C3), up to a bad-request budget.
 * - `accept` decides, state first (C2, C3), whether a request is the callback. The first accepted callback
 *   wins: `Connection: close`, then every socket is closed (C6). Only a socket's first request is looked at:
 *   one pipelined behind it could never be answered (see onRequest).
 * - headersTimeout/requestTimeout cut slow clients (C7); the caller owns the overall timeout via AbortSignal.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { UsageError, ConfigError, OperationError } from '../../errors.js';
import { CALLBACK_PAGE_HEADERS, renderPage, type PageKind } from './callback-page.js';
import { redirectUriWithPort } from './authorize-url.js';

/** The pages' security headers on the bare answers to requests Node's parser refused (they have no body). */
const RAW_HEADERS = Object.entries(CALLBACK_PAGE_HEADERS)
  .filter(([name]) => name !== 'Content-Type')
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

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
const MAX_TARGET = 8 * 1024;

export function bindAddressFor(redirectUri: URL): string {
  const host = redirectUri.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === '127.0.0.1' || host === 'localhost') return '127.0.0.1';
  if (host === '::1') return '::1';
  throw new ConfigError('BOX_REDIRECT_URI must use 127.0.0.1, [::1] or localhost', { code: 'E_CONFIG_REDIRECT_URI' });
}

/**
 * The exact Host a browser sends for the redirect URI (C8: anything else may be DNS rebinding): the URI's
 * host with the bound port, or the bare host on port 80, where browsers leave the default port out (RFC 9110
 * §7.2; issue 15 item 14). The listener is plain http, so 80 is the only default port.
 */
export function isCallbackHost(header: string | undefined, redirectUri: URL, port: number): boolean {
  const host = (header ?? '').toLowerCase();
  const name = redirectUri.hostname.toLowerCase();
  return host === `${name}:${port}` || (port === 80 && host === name);
}

export async function startLoopbackListener(opts: LoopbackListenerOptions): Promise<LoopbackListener> {
  const address = bindAddressFor(opts.redirectUri);
  const wantedPort = opts.port ?? (opts.redirectUri.port === '' ? 80 : Number(opts.redirectUri.port));
  const cb = new CallbackServer(opts);
  cb.port = await listen(cb.server, address, wantedPort, opts.port !== undefined);
  return {
    address,
    port: cb.port,
    redirectUri: redirectUriWithPort(opts.redirectUri, cb.port),
    wait: (signal) => cb.wait(signal),
    offer: (params) => cb.offer(params),
    close: () => cb.shutdown(),
  };
}

/** One listener's state: the first accepted callback settles it; bad requests are counted against a budget. */
class CallbackServer {
  readonly server = createServer({
    maxHeaderSize: 16 * 1024,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
    keepAliveTimeout: 1_000,
  });
  port = 0;
  private settled = false;
  private bad = 0;
  private readonly sockets = new Set<Socket>();
  private readonly socketsWithARequest = new WeakSet<Socket>();
  private readonly outcome: Promise<CallbackOutcome>;
  private resolveOutcome!: (o: CallbackOutcome) => void;
  private rejectOutcome!: (e: unknown) => void;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: LoopbackListenerOptions) {
    this.log = opts.log ?? (() => {});
    this.outcome = new Promise<CallbackOutcome>((res, rej) => {
      this.resolveOutcome = res;
      this.rejectOutcome = rej;
    });
    this.outcome.catch(() => {});
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch(() => {
        if (!res.headersSent) send(res, 'bad-request');
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
  }

  async wait(signal: AbortSignal): Promise<CallbackOutcome> {
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(signal.reason ?? new Error('aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([this.outcome, aborted]);
    } finally {
      this.settled = true;
      await this.shutdown();
    }
  }

  async offer(params: URLSearchParams): Promise<boolean> {
    if (this.settled) return false;
    const result = await this.tryAccept(params);
    if (result === undefined) this.countBad('pasted url');
    return result !== undefined;
  }

  shutdown(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.settled) return send(res, 'bad-request');
    // HTTP/1.1 answers a socket's requests in order and every answer here closes the socket, so a request
    // pipelined behind another can never be answered. Checking its state anyway let it win the race with the
    // first request's async check: it was accepted, wait() destroyed the socket before the first request had
    // its answer (and so before the page queued behind it), and the browser got no reply at all.
    if (this.socketsWithARequest.has(req.socket)) {
      this.countBad('pipelined');
      return send(res, 'bad-request');
    }
    this.socketsWithARequest.add(req.socket);
    const refused = this.screen(req);
    if (refused) {
      this.countBad(refused.reason);
      return send(res, refused.page);
    }
    const target = new URL(req.url ?? '/', 'http://callback.invalid');
    const result = await this.tryAccept(target.searchParams);
    if (result === undefined) {
      this.countBad('state');
      return send(res, 'bad-request');
    }
    send(res, result.kind === 'code' ? 'success' : 'denied');
    // End the response before closing: the browser must see the page (STYLE.md "OAuth loopback").
    res.once('finish', () => void this.shutdown());
  }

  /** Everything but the state: Host (C8), target size, path, method. */
  private screen(req: IncomingMessage): { reason: string; page: PageKind } | undefined {
    if (!isCallbackHost(req.headers.host, this.opts.redirectUri, this.port))
      return { reason: 'host', page: 'bad-request' };
    const raw = req.url ?? '';
    if (raw.length > MAX_TARGET) return { reason: 'target size', page: 'too-large' };
    if (!raw.startsWith('/')) return { reason: 'target', page: 'bad-request' };
    if (new URL(raw, 'http://callback.invalid').pathname !== this.opts.redirectUri.pathname)
      return { reason: 'path', page: 'not-found' };
    if (req.method !== 'GET') return { reason: 'method', page: 'method-not-allowed' };
    return undefined;
  }

  /** One place decides, for the browser and for a pasted URL alike; the first acceptance wins. */
  private async tryAccept(params: URLSearchParams): Promise<CallbackOutcome | undefined> {
    let result: CallbackOutcome | undefined;
    try {
      result = await this.opts.accept(params);
    } catch {
      result = undefined;
    }
    if (result === undefined || this.settled) return undefined;
    this.settled = true;
    this.resolveOutcome(result);
    return result;
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    if (this.socketsWithARequest.has(socket)) {
      // Bytes that fail to parse after a request on this socket: that request's answer is on its way (or sent)
      // and closes the socket; a bare 400 written here would take its place. (Node's own handler also writes
      // only while no response has started.)
      this.countBad(err.code ?? 'client error');
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\n${RAW_HEADERS}Connection: close\r\nContent-Length: 0\r\n\r\n`);
    this.countBad(err.code ?? 'client error');
  }

  private countBad(reason: string): void {
    this.bad += 1;
    this.log(`callback listener refused a request (${reason})`);
    const max = this.opts.maxBadRequests ?? 50;
    if (this.bad >= max && !this.settled) {
      this.settled = true;
      this.rejectOutcome(
        new OperationError(
          'E_CALLBACK_FLOOD',
          `the callback listener received ${this.bad} bad requests; stopped waiting`,
          {
            hint: 'something on this machine is sending requests to the callback port; run connect again',
          },
        ),
      );
    }
  }
}

function send(res: ServerResponse, kind: PageKind): void {
  const page = renderPage(kind);
  // Every answer closes its connection: no keep-alive socket can carry a second request (C6).
  page.headers.Connection = 'close';
  res.writeHead(page.status, page.headers);
  res.end(page.body);
}

function listen(
  server: ReturnType<typeof createServer>,
  host: string,
  port: number,
  fromFlag: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        const what = err.code === 'EADDRINUSE' ? 'is already in use' : 'needs privileges to bind';
        reject(
          new UsageError(`port ${port} on ${host} ${what}`, {
            code: 'E_PORT_IN_USE',
            hint: fromFlag
              ? 'pick another port with --port <n> (0 = any free port)'
              : 'pass --port <n> (0 = any free port), or change BOX_REDIRECT_URI',
            details: { port, host },
            cause: err,
          }),
        );
      } else {
        reject(
          new ConfigError(`cannot listen on ${host}:${port} (${err.code ?? 'error'})`, {
            code: 'E_LISTEN',
            cause: err,
          }),
        );
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
