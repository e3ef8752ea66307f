/** The emulator's 2.0 API against box-api.md §4-§6: users/me, folder items (offset and marker), 401s. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { get } from './helpers.js';

let emu: Emulator;
let token: string;
beforeAll(async () => {
  emu = await startEmulator({ rootItems: 2345, freezeClock: true });
  token = emu.mint({ login: 'alice@example.com' }).access_token;
});
afterAll(async () => {
  await emu.close();
});

type Json = Record<string, unknown>;
async function api(path: string, t = token): Promise<{ status: number; headers: Headers; body: Json }> {
  const res = await get(`${emu.url}${path}`, t);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

const BOX_ERROR_KEYS = ['code', 'context_info', 'help_url', 'message', 'request_id', 'status', 'type'];

describe('GET /2.0/users/me (box-api.md §4)', () => {
  it('returns the standard user object of the user who authorized', async () => {
    const { status, body } = await api('/2.0/users/me');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      type: 'user',
      id: '11111',
      login: 'alice@example.com',
      name: 'Alice Example',
      status: 'active',
    });
    expect(Object.keys(body).sort()).toEqual([
      'address',
      'avatar_url',
      'created_at',
      'id',
      'job_title',
      'language',
      'login',
      'max_upload_size',
      'modified_at',
      'name',
      'notification_email',
      'phone',
      'space_amount',
      'space_used',
      'status',
      'timezone',
      'type',
    ]);
  });

  it('returns only type, id and the requested fields with ?fields=', async () => {
    const { body } = await api('/2.0/users/me?fields=login,role');
    expect(body).toEqual({ type: 'user', id: '11111', login: 'alice@example.com', role: 'user' });
  });
});

describe('GET /2.0/folders/{id}/items, offset mode (box-api.md §5)', () => {
  it('defaults to limit 100 and answers total_count, entries, offset, limit and order', async () => {
    const { status, body } = await api('/2.0/folders/0/items');
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['entries', 'limit', 'offset', 'order', 'total_count']);
    expect(body).toMatchObject({
      total_count: 2345,
      offset: 0,
      limit: 100,
      order: [
        { by: 'type', direction: 'ASC' },
        { by: 'name', direction: 'ASC' },
      ],
    });
    expect(body.entries).toHaveLength(100);
  });

  it('clamps limit to 1000 and echoes the effective limit', async () => {
    const { body } = await api('/2.0/folders/0/items?limit=10000');
    expect(body.limit).toBe(1000);
    expect(body.entries).toHaveLength(1000);
  });

  it("accepts offset 9999 and rejects 10000 with Box's bad_request shape", async () => {
    expect((await api('/2.0/folders/0/items?offset=9999')).body.entries).toEqual([]);
    const { status, headers, body } = await api('/2.0/folders/0/items?offset=10000');
    expect(status).toBe(400);
    expect(headers.get('cache-control')).toBe('no-cache, no-store');
    expect(Object.keys(body).sort()).toEqual(BOX_ERROR_KEYS);
    expect(body).toMatchObject({
      type: 'error',
      status: 400,
      code: 'bad_request',
      context_info: {
        errors: [
          {
            reason: 'invalid_parameter',
            name: 'offset',
            message: "Invalid value '10000'. The offset must not exceed the maximum offset of 9999",
          },
        ],
      },
      request_id: headers.get('box-request-id'),
    });
  });

  it.each([
    ['limit=ten', 'invalid_limit', 'Limit is not a valid number'],
    ['offset=ten', 'invalid_offset', 'Offset is not a valid number'],
  ])('rejects %s with %s', async (query, code, message) => {
    const { status, body } = await api(`/2.0/folders/0/items?${query}`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ type: 'error', status: 400, code, message });
  });

  it("orders folders, then files, then web links, with Box's mini entry shapes", async () => {
    const types: string[] = [];
    for (let offset = 0; offset < 2345; offset += 1000) {
      const { body } = await api(`/2.0/folders/0/items?limit=1000&offset=${offset}`);
      types.push(...(body.entries as Json[]).map((e) => e.type as string));
    }
    expect(types).toHaveLength(2345);
    const firstFile = types.indexOf('file');
    const firstLink = types.indexOf('web_link');
    expect(types.slice(0, firstFile).every((t) => t === 'folder')).toBe(true);
    expect(types.slice(firstFile, firstLink).every((t) => t === 'file')).toBe(true);
    expect(types.slice(firstLink).every((t) => t === 'web_link')).toBe(true);
    const { body } = await api(`/2.0/folders/0/items?limit=1&offset=${firstFile}`);
    const file = (body.entries as Json[])[0]!;
    expect(Object.keys(file)).toEqual(['type', 'id', 'file_version', 'sequence_id', 'etag', 'sha1', 'name']);
    expect(file.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(file.file_version).toMatchObject({ type: 'file_version', sha1: file.sha1 });
    const link = (await api(`/2.0/folders/0/items?limit=1&offset=${firstLink}`)).body.entries as Json[];
    expect(Object.keys(link[0]!)).toEqual(['type', 'id', 'sequence_id', 'etag', 'name', 'url']);
    const folder = (await api('/2.0/folders/0/items?limit=1')).body.entries as Json[];
    expect(Object.keys(folder[0]!)).toEqual(['type', 'id', 'sequence_id', 'etag', 'name']);
  });

  it('returns the base fields plus the requested ones with ?fields=', async () => {
    const { body } = await api('/2.0/folders/0/items?limit=200&fields=name,size');
    for (const e of body.entries as Json[]) expect(Object.keys(e)).toEqual(['type', 'id', 'etag', 'name', 'size']);
  });

  it('lists sub-folders, and names include non-ASCII, control characters and escape sequences', async () => {
    const { body } = await api('/2.0/folders/0/items?limit=1000');
    const names = (body.entries as Json[]).map((e) => e.name as string);
    expect(names.some((n) => n.includes('\u001b]0;pwned\u0007'))).toBe(true);
    expect(names.some((n) => n.includes('\u001b[31m'))).toBe(true);
    expect(names.some((n) => /[\t\n]/.test(n))).toBe(true);
    expect(names.some((n) => /[^\x00-\x7f]/.test(n))).toBe(true);
    const sub = (body.entries as Json[])[0]!;
    expect((await api(`/2.0/folders/${sub.id as string}/items`)).status).toBe(200);
  });

  it('answers 404 not_found with the d_ prefixed id for an unknown folder, and 405 for a malformed id', async () => {
    const { status, body } = await api('/2.0/folders/1703015400/items');
    expect(status).toBe(404);
    expect(body).toMatchObject({
      type: 'error',
      status: 404,
      code: 'not_found',
      message: 'Not Found',
      help_url: 'http://developers.box.com/docs/#errors',
      context_info: {
        errors: [
          {
            reason: 'invalid_parameter',
            name: 'folder',
            message: "Invalid value 'd_1703015400'. 'folder' with value 'd_1703015400' not found",
          },
        ],
      },
    });
    expect((await api('/2.0/folders/abc/items')).status).toBe(405);
  });
});

describe('GET /2.0/folders/{id}/items, marker mode (box-api.md §5)', () => {
  async function listAll(): Promise<{ ids: string[]; last: Json }> {
    const ids: string[] = [];
    let marker: unknown;
    let last: Json = {};
    for (let page = 0; page < 10; page++) {
      const q = `usemarker=true&limit=1000${typeof marker === 'string' && marker !== '' ? `&marker=${marker}` : ''}`;
      const { body } = await api(`/2.0/folders/0/items?${q}`);
      expect(body).not.toHaveProperty('total_count');
      expect(body).not.toHaveProperty('offset');
      ids.push(...(body.entries as Json[]).map((e) => e.id as string));
      last = body;
      marker = body.next_marker;
      if (marker === null || marker === undefined || marker === '') break;
    }
    return { ids, last };
  }

  it.each([
    ['null', (b: Json) => expect(b.next_marker).toBeNull()],
    ['empty', (b: Json) => expect(b.next_marker).toBe('')],
    ['absent', (b: Json) => expect(b).not.toHaveProperty('next_marker')],
  ] as const)('lists every item once and ends with next_marker %s', async (variant, check) => {
    emu.setOptions({ markerEnd: variant });
    const { ids, last } = await listAll();
    expect(ids).toHaveLength(2345);
    expect(new Set(ids).size).toBe(2345);
    check(last);
    emu.setOptions({ markerEnd: 'null' });
  });

  it('rejects a marker it did not issue', async () => {
    const { status, body } = await api('/2.0/folders/0/items?usemarker=true&marker=bogus');
    expect(status).toBe(400);
    expect(body.code).toBe('bad_request');
  });
});

describe('401 for missing, invalid and expired tokens (box-api.md §6)', () => {
  const INVALID =
    'Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."';

  it("answers an unknown token with 401, an empty body and Box's WWW-Authenticate header", async () => {
    const res = await get(`${emu.url}/2.0/users/me`, 'not-a-token');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(INVALID);
    expect(res.headers.get('box-request-id')).toBeTruthy();
    expect(await res.text()).toBe('');
  });

  it('answers a missing Authorization header with a bare realm (or invalid_token as a switch)', async () => {
    expect((await get(`${emu.url}/2.0/users/me`)).headers.get('www-authenticate')).toBe('Bearer realm="Service"');
    emu.setOptions({ missingTokenVariant: 'invalid_token' });
    expect((await get(`${emu.url}/2.0/users/me`)).headers.get('www-authenticate')).toBe(INVALID);
    emu.setOptions({ missingTokenVariant: 'realm' });
  });

  it('answers an expired token with invalid_token, or expired_token under that switch', async () => {
    const t = emu.mint({ login: 'bob@example.com' }).access_token;
    emu.clock.advance(3600_000);
    const res = await get(`${emu.url}/2.0/folders/0/items`, t);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(INVALID);
    emu.setOptions({ expiredTokenVariant: 'expired_token' });
    const res2 = await get(`${emu.url}/2.0/users/me`, t);
    expect(res2.headers.get('www-authenticate')).toBe(
      'Bearer realm="Service", error="expired_token", error_description="The access token provided has expired."',
    );
    expect(await res2.text()).toBe('');
    emu.setOptions({ expiredTokenVariant: 'invalid_token' });
    token = emu.mint({ login: 'alice@example.com' }).access_token;
  });
});
