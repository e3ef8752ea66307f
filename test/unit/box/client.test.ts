import { afterEach, describe, expect, it } from 'vitest';
import { createHttpContext, closeHttpContext } from '../../../src/core/http/request.js';
import { FolderNotFoundError, getCurrentUser, listFolderItems, listFolderPages } from '../../../src/core/box/client.js';
import { UnauthorizedError } from '../../../src/core/box/errors.js';
import { BoxApiError, TemporaryError } from '../../../src/errors.js';
import { json, startLocalServer, text, type Recorded, type Reply } from '../http/local-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(replies: Reply[] | ((req: Recorded, n: number) => Reply)) {
  const server = await startLocalServer(replies);
  const sleeps: number[] = [];
  const http = await createHttpContext({
    env: {},
    log: { debug() {} },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  cleanups.push(server.close, () => closeHttpContext(http));
  return { server, sleeps, opts: { http, apiBaseUrl: server.url } };
}

const token = (t: string) => ({ get: async () => t });

describe('getCurrentUser', () => {
  it('returns id, login and name', async () => {
    const { server, opts } = await setup([json(200, { type: 'user', id: '11', login: 'a@x.com', name: 'A' })]);
    await expect(getCurrentUser(opts, 'AT')).resolves.toEqual({ id: '11', login: 'a@x.com', name: 'A' });
    expect(server.requests[0]!.headers.authorization).toBe('Bearer AT');
    expect(server.requests[0]!.url).toMatch(/^\/2\.0\/users\/me\?/);
  });

  it('throws UnauthorizedError (status 401) for an empty 401', async () => {
    const { opts } = await setup([
      text(401, '', { 'www-authenticate': 'Bearer realm="Service", error="invalid_token"' }),
    ]);
    const err = await getCurrentUser(opts, 'AT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(err).toMatchObject({ status: 401, authError: 'invalid_token' });
  });
});

const entries = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'file', id: String(from + i), name: `f${from + i}` }));

describe('listFolderPages', () => {
  it.each([
    ['null', null],
    ['empty string', ''],
    ['absent', undefined],
  ])('stops when next_marker is %s', async (_n, end) => {
    const { server, opts } = await setup([
      json(200, { entries: entries(0, 2), limit: 1000, next_marker: 'M1' }),
      json(200, { entries: entries(2, 1), limit: 1000, ...(end === undefined ? {} : { next_marker: end }) }),
    ]);
    const items = [];
    for await (const item of listFolderItems(opts, '0', token('AT'))) items.push(item.id);
    expect(items).toEqual(['0', '1', '2']);
    expect(server.requests[0]!.url).toContain('usemarker=true');
    expect(server.requests[0]!.url).toContain('limit=1000');
    expect(server.requests[1]!.url).toContain('marker=M1');
  });

  it('requests no page beyond maxItems, not even ahead (ls --limit)', async () => {
    const { server, opts } = await setup([
      json(200, { entries: entries(0, 2), next_marker: 'M1' }),
      json(200, { entries: entries(2, 2), next_marker: 'M2' }),
      json(200, { entries: entries(4, 2), next_marker: null }),
    ]);
    const pages = [];
    for await (const page of listFolderPages(opts, '0', token('AT'), { maxItems: 3 })) pages.push(page.items.length);
    expect(pages).toEqual([2, 2]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(2);
  });

  it('honours Retry-After on 429 and retries 503 with backoff, then completes', async () => {
    const { server, sleeps, opts } = await setup([
      json(200, { entries: entries(0, 1), next_marker: 'M1' }),
      json(429, { type: 'error', status: 429, code: 'rate_limit_exceeded' }, { 'Retry-After': '2' }),
      json(429, { type: 'error', status: 429, code: 'rate_limit_exceeded' }, { 'retry-after': '1' }),
      json(503, { type: 'error', status: 503, code: 'unavailable' }),
      json(200, { entries: entries(1, 1), next_marker: null }),
    ]);
    const ids = [];
    for await (const item of listFolderItems(opts, '0', token('AT'))) ids.push(item.id);
    expect(ids).toEqual(['0', '1']);
    expect(sleeps).toEqual([2000, 1000, 2000]);
    expect(server.requests.slice(1).every((r) => r.url.includes('marker=M1'))).toBe(true);
  });

  it('gives up after 5 attempts on a persistent 500 with a TemporaryError (exit 75)', async () => {
    const { server, opts } = await setup(() =>
      json(500, { type: 'error', status: 500, code: 'internal_server_error' }),
    );
    const err = await listFolderPages(opts, '0', token('AT'))
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporaryError);
    expect(server.requests).toHaveLength(5);
  });

  it('on 401 asks for a new token once and repeats the same marker', async () => {
    const { server, opts } = await setup([
      json(200, { entries: entries(0, 1), next_marker: 'M1' }),
      text(401, ''),
      json(200, { entries: entries(1, 1), next_marker: null }),
    ]);
    const renewed: string[] = [];
    let current = 'AT1';
    const auth = {
      get: async () => current,
      renew: async (rejected: string) => {
        renewed.push(rejected);
        current = 'AT2';
        return current;
      },
    };
    const ids = [];
    for await (const item of listFolderItems(opts, '0', auth)) ids.push(item.id);
    expect(ids).toEqual(['0', '1']);
    expect(renewed).toEqual(['AT1']);
    expect(server.requests[2]!.headers.authorization).toBe('Bearer AT2');
    expect(server.requests[2]!.url).toContain('marker=M1');
  });

  it('maps 404 to FolderNotFoundError (exit 1)', async () => {
    const { opts } = await setup([json(404, { type: 'error', status: 404, code: 'not_found', request_id: 'q1' })]);
    const err = await listFolderPages(opts, '42', token('AT'))
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FolderNotFoundError);
    expect(err).toMatchObject({ exitCode: 1, requestId: 'q1', folderId: '42' });
  });

  it('reports an HTML 200 as BoxApiError, not a SyntaxError', async () => {
    const { opts } = await setup([text(200, '<html>login</html>')]);
    await expect(listFolderPages(opts, '0', token('AT')).next()).rejects.toBeInstanceOf(BoxApiError);
  });
});
