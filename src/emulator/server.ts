/**
 * The HTTP front: reads the request, picks a fault, routes, and writes the Reply (or drops, stalls or drips
 * it). Every response carries BOX-REQUEST-ID (box-api.md §6). Unknown routes answer 500
 * `emulator_unimplemented` so a test notices at once (issue 4).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { boxError, oauthError, newRequestId, type Reply } from './reply.js';
import type { EmulatorState, RequestContext } from './state.js';
import type { FaultRule } from './faults.js';
import { handleAuthorize, handleDecision, handleRevoke, handleToken } from './oauth-routes.js';
import { authenticate, handleFolderItems, handleUsersMe } from './api-routes.js';
import { handleControl, CONTROL_PREFIX } from './control.js';
import type { Emulator } from './types.js';

const MAX_BODY = 1024 * 1024;

export interface ServerHooks {
  /** Timers and sockets to clean up on close(). */
  timers: Set<NodeJS.Timeout>;
  handle: () => Emulator;
}

function routeKey(method: string, path: string): string {
  if (/^\/2\.0\/folders\/[^/]+\/items$/.test(path)) return `${method} /2.0/folders/:id/items`;
  return `${method} ${path}`;
}

function dispatch(st: EmulatorState, ctx: RequestContext): Reply {
  const { method } = ctx;
  const path = ctx.url.pathname;
  if (path === '/api/oauth2/authorize') {
    if (method === 'GET') return handleAuthorize(st, ctx);
    if (method === 'POST') return handleDecision(st, ctx);
  }
  if (method === 'POST' && path === '/oauth2/token') return handleToken(st, ctx);
  if (method === 'POST' && path === '/oauth2/revoke') return handleRevoke(st, ctx);
  if (method === 'GET' && path === '/2.0/users/me') {
    const rec = authenticate(st, ctx);
    return 'status' in rec ? rec : handleUsersMe(st, ctx, rec);
  }
  const items = /^\/2\.0\/folders\/([^/]+)\/items$/.exec(path);
  if (method === 'GET' && items) {
    const rec = authenticate(st, ctx);
    return 'status' in rec ? rec : handleFolderItems(st, ctx, decodeURIComponent(items[1]!));
  }
  return boxError(
    ctx.requestId,
    500,
    'emulator_unimplemented',
    `The Box emulator does not implement ${method} ${path}`,
  );
}

const FAULT_BODIES: Record<number, [string, string]> = {
  429: ['rate_limit_exceeded', 'Request rate limit exceeded, please try again later'],
  500: ['internal_server_error', 'Internal Server Error'],
  502: ['bad_gateway', 'Bad Gateway'],
  503: ['unavailable', 'Unavailable'],
};

function faultReply(ctx: RequestContext, rule: FaultRule): Reply {
  const status = rule.status ?? 500;
  const retryAfter = rule.retryAfterSeconds ?? (status === 429 ? 1 : undefined);
  const headers: Record<string, string> = retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {};
  if (status === 429 && ctx.url.pathname.startsWith('/oauth2/')) {
    // The token endpoint's overload answer (box-api.md §2, rclone log).
    const r = oauthError(
      429,
      'temporarily_unavailable',
      'The server is currently unable to handle the request due to a temporary overloading of the server',
    );
    return { ...r, headers: { ...r.headers, ...headers } };
  }
  const [code, message] = FAULT_BODIES[status] ?? [`status_${status}`, 'Injected fault'];
  return boxError(ctx.requestId, status, code, message, undefined, headers);
}

/** malform-after-commit: the committed 200, answered with fields changed or with another body altogether. */
function malform(reply: Reply, rule: FaultRule): Reply {
  if (reply.status !== 200) return reply;
  if (rule.rawBody !== undefined)
    return { status: 200, headers: { ...reply.headers, 'Content-Type': 'text/html' }, body: rule.rawBody };
  const body = JSON.parse(typeof reply.body === 'string' ? reply.body : reply.body.join('')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(rule.patch ?? {})) {
    if (v === null) delete body[k];
    else body[k] = v;
  }
  return { ...reply, body: JSON.stringify(body) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(hooks: ServerHooks, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      hooks.timers.delete(t);
      resolve();
    }, ms);
    hooks.timers.add(t);
  });
}

async function send(hooks: ServerHooks, res: ServerResponse, reply: Reply, rule: FaultRule | undefined): Promise<void> {
  const parts = typeof reply.body === 'string' ? [reply.body] : reply.body;
  const length = parts.reduce((n, p) => n + Buffer.byteLength(p, 'utf8'), 0);
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(length) });
  if (rule?.action !== 'slow-drip') {
    // Strings, not one Buffer: a 200 KB page per request must not pile up as external memory (memory.test.ts).
    for (const p of parts) res.write(p, 'utf8');
    res.end();
    return;
  }
  const body = Buffer.from(parts.join(''), 'utf8');
  const step = Math.max(1, rule.chunkBytes ?? 16);
  for (let i = 0; i < body.length && !res.destroyed; i += step) {
    res.write(body.subarray(i, i + step));
    await sleep(hooks, rule.ms ?? 200);
  }
  res.end();
}

async function buildContext(st: EmulatorState, req: IncomingMessage, requestId: string): Promise<RequestContext> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const body = await readBody(req);
  const isForm =
    (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
  const form = isForm ? new URLSearchParams(body) : undefined;
  return {
    req,
    method,
    url,
    requestId,
    body,
    form,
    receivedAt: st.clock.now(),
    grantType: url.pathname === '/oauth2/token' ? (form?.get('grant_type') ?? undefined) : undefined,
    route: routeKey(method, url.pathname),
  };
}

function count(st: EmulatorState, ctx: RequestContext, rule: FaultRule | undefined): (status: number) => void {
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  st.stats.total += 1;
  bump(st.stats.byRoute, ctx.route);
  if (ctx.grantType) bump(st.stats.byGrantType, ctx.grantType);
  if (rule) st.stats.faultsApplied += 1;
  return (status) => {
    bump(st.stats.byStatus, String(status));
    const { method, route, grantType, requestId } = ctx;
    st.requests.push({
      time: ctx.receivedAt,
      method,
      path: ctx.url.pathname,
      query: ctx.url.search.slice(1),
      referer: ctx.req.headers.referer,
      route,
      grantType,
      status,
      requestId,
      ...(rule ? { fault: rule.action } : {}),
    });
  };
}

export async function handleRequest(
  st: EmulatorState,
  hooks: ServerHooks,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = newRequestId();
  res.setHeader('BOX-REQUEST-ID', requestId);
  // As Box does; from the emulator's clock, so a test can show what a skewed host clock looks like (doctor).
  res.setHeader('Date', new Date(st.clock.now()).toUTCString());
  const ctx = await buildContext(st, req, requestId);
  if (ctx.url.pathname.startsWith(CONTROL_PREFIX)) {
    await send(hooks, res, await handleControl(hooks.handle(), ctx), undefined);
    return;
  }
  const rule = st.faults.pick(ctx.method, ctx.url.pathname, ctx.grantType);
  const log = count(st, ctx, rule);
  if (rule?.action === 'drop') {
    log(0);
    req.socket.destroy();
    return;
  }
  if (rule?.action === 'latency') await sleep(hooks, rule.ms ?? 1000);
  const handled = rule?.action === 'status' ? faultReply(ctx, rule) : dispatch(st, ctx);
  const reply = rule?.action === 'malform-after-commit' ? malform(handled, rule) : handled;
  if (rule?.action === 'drop-after-commit') {
    if (ctx.chainEvent) ctx.chainEvent.response = 'dropped';
    log(0);
    req.socket.destroy();
    return;
  }
  if (rule?.action === 'stall-after-commit') {
    if (ctx.chainEvent) ctx.chainEvent.response = 'stalled';
    await sleep(hooks, rule.ms ?? 600_000);
    if (res.destroyed || req.socket.destroyed) return log(0);
  } else if (ctx.chainEvent) {
    ctx.chainEvent.response = 'sent';
  }
  log(reply.status);
  await send(hooks, res, reply, rule);
}
