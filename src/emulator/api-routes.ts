/**
 * The 2.0 API endpoints box-qc uses (box-api.md §4, §5) and Bearer authentication with Box's 401 (§6).
 */
import { boxError, empty, json, jsonPage, type Reply } from './reply.js';
import type { EmulatorState, RequestContext } from './state.js';
import type { TokenRecord } from './grants.js';
import { entryAt, folderShape, project, totalOf, type Entry } from './tree.js';

const REALM = 'Bearer realm="Service"';

/** 401 with an empty body and Box's WWW-Authenticate header (box-api.md §6). */
function unauthorized(st: EmulatorState, kind: 'missing' | 'invalid' | 'expired'): Reply {
  let header = `${REALM}, error="invalid_token", error_description="The access token provided is invalid."`;
  if (kind === 'missing' && st.options.missingTokenVariant === 'realm') header = REALM;
  if (kind === 'expired' && st.options.expiredTokenVariant === 'expired_token') {
    header = `${REALM}, error="expired_token", error_description="The access token provided has expired."`;
  }
  return empty(401, { 'WWW-Authenticate': header });
}

export function authenticate(st: EmulatorState, ctx: RequestContext): TokenRecord | Reply {
  const auth = ctx.req.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  if (!m) return unauthorized(st, auth ? 'invalid' : 'missing');
  const check = st.grants.checkAccess(m[1]!);
  if (!check.ok) return unauthorized(st, check.expired ? 'expired' : 'invalid');
  return check.record;
}

function fieldsParam(url: URL): string[] | undefined {
  const raw = url.searchParams.get('fields');
  if (raw === null) return undefined;
  return raw
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
}

export function handleUsersMe(st: EmulatorState, ctx: RequestContext, rec: TokenRecord): Reply {
  const u = st.grants.userFor(rec.grant.login);
  // Standard `User` set, shaped like [NODE3]'s get_users_me_200.json fixture (box-api.md §4).
  const full: Record<string, unknown> = {
    type: 'user',
    id: u.id,
    name: u.name,
    login: u.login,
    created_at: '2016-11-09T15:57:20-08:00',
    modified_at: '2018-04-25T17:07:47-07:00',
    language: 'en',
    timezone: 'America/Los_Angeles',
    space_amount: 1000000000000000,
    space_used: 38243356,
    max_upload_size: 5368709120,
    status: 'active',
    job_title: '',
    phone: '555-555-5555',
    address: '',
    avatar_url: 'https://app.box.com/api/avatar/large/deprecated',
    notification_email: null,
  };
  const extra: Record<string, unknown> = {
    role: 'user',
    enterprise: null,
    is_sync_enabled: true,
    hostname: 'https://app.box.com/',
    my_tags: [],
  };
  const fields = fieldsParam(ctx.url);
  if (!fields) return json(200, full);
  // With `fields`, only type and id plus what was asked (box-api.md §4; base set beyond type,id UNCONFIRMED).
  const out: Record<string, unknown> = { type: 'user', id: u.id };
  for (const f of fields)
    if (f in full) out[f] = full[f];
    else if (f in extra) out[f] = extra[f];
  return json(200, out);
}

interface Page {
  offset: number;
  limit: number;
}

function parseLimit(ctx: RequestContext): number | Reply {
  const raw = ctx.url.searchParams.get('limit');
  if (raw === null || raw === '') return 100;
  if (!/^-?\d+$/.test(raw.trim())) return boxError(ctx.requestId, 400, 'invalid_limit', 'Limit is not a valid number');
  // "If the value exceeds the maximum, then the maximum value will be used" ([DOC-off]).
  return Math.min(1000, Math.max(1, Number(raw)));
}

function encodeMarker(folderId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ f: folderId, o: offset })).toString('base64url');
}

function decodeMarker(folderId: string, marker: string): number | undefined {
  try {
    const v = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8')) as { f?: unknown; o?: unknown };
    if (v.f === folderId && typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return v.o;
  } catch {
    /* an opaque marker we did not issue */
  }
  return undefined;
}

function badParam(ctx: RequestContext, name: string, value: string, why: string): Reply {
  return boxError(ctx.requestId, 400, 'bad_request', 'Bad Request', [
    { reason: 'invalid_parameter', name, message: `Invalid value '${value}'. ${why}` },
  ]);
}

export function handleFolderItems(st: EmulatorState, ctx: RequestContext, folderId: string): Reply {
  if (!/^\d+$/.test(folderId)) return boxError(ctx.requestId, 405, 'method_not_allowed', 'Method Not Allowed');
  const { seed, rootItems } = st.options;
  const shape = folderShape(seed, rootItems, folderId);
  if (!shape) {
    return boxError(ctx.requestId, 404, 'not_found', 'Not Found', [
      {
        reason: 'invalid_parameter',
        name: 'folder',
        message: `Invalid value 'd_${folderId}'. 'folder' with value 'd_${folderId}' not found`,
      },
    ]);
  }
  const limit = parseLimit(ctx);
  if (typeof limit !== 'number') return limit;
  const q = ctx.url.searchParams;
  const fields = fieldsParam(ctx.url);
  const total = totalOf(shape);
  const pageOf = (p: Page): Entry[] => {
    const out: Entry[] = [];
    for (let i = p.offset; i < Math.min(total, p.offset + p.limit); i++)
      out.push(project(entryAt(seed, shape, i), fields));
    return out;
  };
  if (q.get('usemarker') === 'true') {
    const marker = q.get('marker');
    let offset = 0;
    if (marker && marker !== '0') {
      const decoded = decodeMarker(folderId, marker);
      if (decoded === undefined) return badParam(ctx, 'marker', marker, 'The marker is not valid for this listing');
      offset = decoded;
    }
    const body: Record<string, unknown> = { limit };
    const end = offset + limit >= total;
    const endMode = st.options.markerEnd;
    if (!end) body.next_marker = encodeMarker(folderId, offset + limit);
    else if (endMode === 'null') body.next_marker = null;
    else if (endMode === 'empty') body.next_marker = '';
    const prev = offset > 0 ? encodeMarker(folderId, Math.max(0, offset - limit)) : null;
    if (prev !== null || endMode !== 'absent') body.prev_marker = prev;
    return jsonPage(pageOf({ offset, limit }), body);
  }
  const rawOffset = q.get('offset');
  let offset = 0;
  if (rawOffset !== null && rawOffset !== '') {
    if (!/^-?\d+$/.test(rawOffset.trim()))
      return boxError(ctx.requestId, 400, 'invalid_offset', 'Offset is not a valid number');
    offset = Math.max(0, Number(rawOffset));
  }
  // "The maximum offset for offset-based pagination is 9999" ([DOC-off]); error shape from the 2016 report.
  if (offset > 9999)
    return badParam(ctx, 'offset', String(offset), 'The offset must not exceed the maximum offset of 9999');
  return jsonPage(pageOf({ offset, limit }), {
    total_count: total,
    offset,
    limit,
    order: [
      { by: 'type', direction: 'ASC' },
      { by: 'name', direction: 'ASC' },
    ],
  });
}
