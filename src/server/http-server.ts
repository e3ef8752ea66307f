/**
 * The serve HTTP edge: node:http (or node:https with --tls-cert/--tls-key) with every limit set explicitly,
 * the Host check, GET and HEAD only, the security headers on every answer (client errors included), one
 * access-log line per request, and a shutdown that lets callbacks in flight finish their exchange and save.
 * Nothing from a request ever reaches the log but its method, the route pattern and the status; a handler
 * that throws is a generic 500, so any number of bad requests leaves the server serving.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isLoopbackHost } from '../config.js';
import { OperationError, isBoxQcError } from '../errors.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { hostMatcher } from './host-check.js';
import { formatListen } from './listen-address.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import { SECURITY_HEADERS, rawResponse, statusPage, type Reply } from './pages.js';
import { routePattern, routeRequest, type RouteDeps } from './routes.js';
import type { ListenAddress } from './types.js';

export interface ServerDeps extends RouteDeps {
  publicUrl: URL;
  /** One line per request (and per refused connection), already free of anything the client sent. */
  log(line: string): void;
  /** Monotonic milliseconds for the durations in the log. */
  clock?: () => number;
}

export interface ServerOptions {
  listen: ListenAddress;
  tls?: { cert: Buffer; key: Buffer } | undefined;
  limits?: Partial<ServerLimits> | undefined;
}

export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  address: ListenAddress;
  /** http://127.0.0.1:8080 or https://... */
  url: string;
  inFlight(): number;
  /** Stops accepting, waits up to graceMs for requests in flight, then closes every socket. */
  shutdown(graceMs: number): Promise<{ drained: boolean }>;
}

interface Answer {
  route: string;
  reply: Reply;
  close: boolean;
  /** The handler threw: the log names its stable error code (E_STORE_BUSY...), never its message. */
  failed?: string;
}

export async function startServer(deps: ServerDeps, options: ServerOptions): Promise<RunningServer> {
  const limits = resolveLimits(options.limits);
  const clock = deps.clock ?? (() => performance.now());
  const prefix = deps.publicUrl.pathname.replace(/\/+$/, '');
  let matchHost = hostMatcher(deps.publicUrl, options.listen);
  let stopping = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  // Counted here rather than by Node's server.maxRequestsPerSocket, whose 503 carries none of our headers.
  const requestsOn = new WeakMap<object, number>();
  let openSockets = 0;
  // Since when each socket has been waiting for its next request (connected, or its last answer sent): the
  // milliseconds logged for a request Node's parser refused, which never reached `handle`.
  const waitingSince = new WeakMap<object, number>();

  const answer = async (req: IncomingMessage): Promise<Answer> => {
    const target = req.url ?? '/';
    const method = req.method ?? '';
    const nth = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, nth);
    if (stopping || nth > limits.maxRequestsPerSocket) return { route: '-', reply: statusPage(503), close: true };
    const last = nth === limits.maxRequestsPerSocket;
    if (Buffer.byteLength(target, 'utf8') > limits.maxUrlBytes)
      return { route: '-', reply: statusPage(414), close: true };
    const q = target.indexOf('?');
    let path = q === -1 ? target : target.slice(0, q);
    if (prefix !== '' && (path === prefix || path.startsWith(`${prefix}/`))) path = path.slice(prefix.length) || '/';
    // What a refusal before routing logs: the route's pattern (the access log's every line names one).
    const refused = (reply: Reply): Answer => ({ route: routePattern(path), reply, close: true });
    if (method !== 'GET' && method !== 'HEAD') return refused(statusPage(405, { Allow: 'GET, HEAD' }));
    if (req.headers.host === undefined) return refused(statusPage(400));
    // Node keeps the first of two Host headers, a proxy may keep the last: two is a bad request, not a choice.
    if (req.rawHeaders.filter((_, i) => i % 2 === 0 && _.toLowerCase() === 'host').length > 1)
      return refused(statusPage(400));
    const hostKind = matchHost(req.headers.host);
    if (hostKind === undefined) return refused(statusPage(421));
    if (!target.startsWith('/')) return { route: '-', reply: statusPage(400), close: true };
    const routed = routeRequest(deps, {
      path,
      query: q === -1 ? '' : target.slice(q + 1),
      hostKind,
      authorization: req.headers.authorization,
      fromLoopback: isLoopbackPeer(req.socket.remoteAddress),
    });
    // A body was never asked for: it is not read, and the socket is not reused after it.
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    try {
      return { route: routed.route, reply: await routed.reply(), close: hasBody || last || stopping };
    } catch (err) {
      return { route: routed.route, reply: statusPage(500), close: true, failed: errorCode(err) };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = clock();
    let a: Answer;
    try {
      a = await answer(req);
    } catch (err) {
      a = { route: '-', reply: statusPage(500), close: true, failed: errorCode(err) };
    }
    write(res, req.method === 'HEAD', a.reply, a.close || stopping);
    const ms = Math.max(0, Math.round(clock() - started));
    // The method is a token llhttp has already validated; escaped anyway, as everything bound for a terminal.
    deps.log(
      `${terminalSafe(req.method ?? '-')} ${a.route} ${a.reply.status} ${ms}ms${a.failed ? ` (${a.failed})` : ''}`,
    );
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight += 1;
    res.once('finish', () => waitingSince.set(req.socket, clock()));
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    });
    handle(req, res).catch(() => res.destroy());
  };

  const httpOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    // Answered by us (400 with the security headers) rather than by Node's bare 400.
    requireHostHeader: false,
  };
  // handshakeTimeout: the header timeout starts only after TLS is up; a client that never finishes the
  // handshake is cut off here (review finding 2). maxConnections: idle sockets cannot exhaust descriptors.
  const makeServer = (): Server => {
    const server: Server = options.tls
      ? createHttpsServer(
          { ...httpOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: limits.headersTimeoutMs },
          onRequest,
        )
      : createHttpServer(httpOptions, onRequest);
    server.maxConnections = limits.maxConnections;
    server.setTimeout(limits.socketIdleMs);
    // The cap is on all of serve's sockets, whichever address they came to (`localhost` is two servers).
    server.on('connection', (socket: Duplex) => {
      if (openSockets >= limits.maxConnections) {
        socket.destroy();
        return;
      }
      openSockets += 1;
      socket.once('close', () => (openSockets -= 1));
    });
    // CONNECT is not a request Node hands to onRequest: without a listener the socket is closed silently.
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      socket.end(rawResponse(405));
      deps.log(`${terminalSafe(req.method ?? '-')} - 405 0ms`);
    });
    const connected = (socket: object) => waitingSince.set(socket, clock());
    server.on('connection', connected);
    server.on('secureConnection', connected);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const since = waitingSince.get(socket);
      const ms = since === undefined ? 0 : Math.max(0, Math.round(clock() - since));
      onClientError(err, socket, (status) => deps.log(`- - ${status} ${ms}ms`));
    });
    return server;
  };

  const servers = await listenAll(makeServer, options.listen);
  const bound = servers[0]!.address() as AddressInfo;
  const address = { ...options.listen, port: bound.port };
  matchHost = hostMatcher(deps.publicUrl, address);
  // Errors after the bind (EMFILE on accept...) are logged; the server keeps serving what it can.
  for (const server of servers)
    server.on('error', (err: NodeJS.ErrnoException) => deps.log(`server error: ${err.code ?? 'unknown'}`));

  return {
    address,
    url: `${options.tls ? 'https' : 'http'}://${formatListen(address)}`,
    inFlight: () => inFlight,
    async shutdown(graceMs) {
      stopping = true;
      const closed = Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
      for (const server of servers) server.closeIdleConnections();
      const drained =
        inFlight === 0 ||
        (await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), graceMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve(true);
          };
        }));
      for (const server of servers) server.closeAllConnections();
      await closed;
      return { drained };
    },
  };
}

/** A BoxQcError's stable code (one of ours, safe to log); anything else is just "internal error". */
function errorCode(err: unknown): string {
  return isBoxQcError(err) && /^E_[A-Z0-9_]{1,40}$/.test(err.code) ? `error ${err.code}` : 'internal error';
}

function write(res: ServerResponse, head: boolean, reply: Reply, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(reply.body, 'utf8'));
  if (close) res.setHeader('Connection', 'close');
  res.end(head ? undefined : reply.body);
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** Node's own answer to an unparseable or too slow request, with the security headers added; `log`ged by status. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex, log: (status: number) => void): void {
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable || busy?.headersSent) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
  socket.end(rawResponse(status));
  socket.once('finish', () => socket.destroy());
  log(status);
}

/**
 * The servers for `at`, listening. `localhost` is ::1 as well to a browser that resolves it so first: the same
 * port there too, or another local program could listen on it and be sent the links (review of the localhost
 * listen, finding 3); a machine with no IPv6 loopback has no such port for anyone. A port that is taken on ::1 is
 * an error, except one the system chose for port 0, which is chosen again (a few times).
 */
async function listenAll(makeServer: () => Server, at: ListenAddress): Promise<Server[]> {
  for (let attempt = 1; ; attempt++) {
    const first = makeServer();
    await listen(first, at);
    if (at.name !== 'localhost') return [first];
    const six = makeServer();
    const port = (first.address() as AddressInfo).port;
    try {
      await listen(six, { host: '::1', port }, ['EADDRNOTAVAIL', 'EAFNOSUPPORT'], at.port === 0 && attempt < 5);
      return [first, six];
    } catch (err) {
      if (err instanceof NoSuchAddress && err.message !== 'EADDRINUSE') return [first];
      await new Promise((resolve) => first.close(resolve));
      if (!(err instanceof NoSuchAddress)) throw err;
    }
  }
}

/** A bind refused with one of the codes listen() was told to expect (its message): that address is not here. */
class NoSuchAddress extends Error {}

function listen(
  server: Server,
  at: ListenAddress,
  absentIf: readonly string[] = [],
  retryIfInUse = false,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (absentIf.includes(err.code ?? '') || (retryIfInUse && err.code === 'EADDRINUSE')) {
        reject(new NoSuchAddress(err.code));
        return;
      }
      const where = formatListen(at);
      const why: Record<string, string> = {
        EADDRINUSE: 'the address is already in use (another serve, or another program)',
        EADDRNOTAVAIL: 'that address is not on this machine',
        EACCES: 'permission denied (ports below 1024 need privileges)',
      };
      reject(
        new OperationError('E_LISTEN', `cannot listen on ${where}: ${why[err.code ?? ''] ?? err.code ?? 'failed'}`, {
          hint: 'choose another address with --listen <host:port> (or BOX_QC_LISTEN)',
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** The socket's peer address (an IPv4 peer on a dual-stack socket arrives as ::ffff:127.0.0.1). */
function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  return isLoopbackHost(address.startsWith('::ffff:') ? address.slice(7) : address);
}
