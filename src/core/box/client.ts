/**
 * Box API client: /2.0/users/me and folder items (marker paging, retries), error parsing.
 * The signatures of getCurrentUser and BoxClientOptions are the contract other modules code against.
 */
import { BoxApiError } from '../../errors.js';
import { isRecord, parseJson, requestIdOf, type HttpContext, type HttpResponse } from '../http/request.js';
import type { BoxIdentity } from '../store/types.js';
import { boxGet, type AccessTokenSource, type RetryPolicy } from './request.js';

export interface BoxClientOptions {
  http: HttpContext;
  apiBaseUrl: URL;
  retry?: RetryPolicy;
}

function badShape(res: HttpResponse, body: unknown, what: string): BoxApiError {
  return new BoxApiError(
    `${res.label}: Box answered ${res.status} ${what}`,
    { status: res.status, requestId: requestIdOf(res, body) },
    {
      code: 'E_BOX_BAD_RESPONSE',
    },
  );
}

/** GET /2.0/users/me with the given access token. 401 -> BoxApiError status 401 (UnauthorizedError). */
export async function getCurrentUser(opts: BoxClientOptions, accessToken: string): Promise<BoxIdentity> {
  const res = await boxGet(opts, '/2.0/users/me', { fields: 'id,login,name' }, { get: async () => accessToken });
  const body = parseJson(res);
  const { id, login, name } = body;
  if (typeof id !== 'string' || typeof login !== 'string') throw badShape(res, body, 'without a user id and login');
  return { id, login, name: typeof name === 'string' ? name : '' };
}

export type FolderItemType = 'folder' | 'file' | 'web_link';

export interface FolderItem {
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- names the kinds Box documents while admitting the ones it may add
  type: FolderItemType | string;
  id: string;
  name: string;
  /** Files only. */
  sha1?: string;
}

export interface FolderPage {
  items: FolderItem[];
  /** The marker that fetched this page (undefined for the first). */
  marker: string | undefined;
  /** undefined at the end of the list. */
  nextMarker: string | undefined;
}

export interface ListFolderOptions {
  /** Page size; Box clamps at 1000 (box-api.md §5). */
  pageSize?: number;
  /** Resume from this marker. */
  marker?: string;
  /** The caller stops after this many items (`ls --limit`): no page beyond them is requested, not even ahead. */
  maxItems?: number;
}

/** Folder 404: not found or not shared with this user (Box does not say which). Exit 1. */
export class FolderNotFoundError extends BoxApiError {
  readonly folderId: string;
  constructor(folderId: string, cause: BoxApiError) {
    super(
      `folder ${folderId} not found`,
      { status: 404, requestId: cause.requestId, boxCode: cause.boxCode },
      {
        code: 'E_FOLDER_NOT_FOUND',
        cause,
        details: { folderId },
      },
    );
    this.folderId = folderId;
  }
}

function parseItem(res: HttpResponse, raw: unknown): FolderItem {
  if (!isRecord(raw) || typeof raw.type !== 'string' || typeof raw.id !== 'string' || typeof raw.name !== 'string') {
    throw badShape(res, undefined, 'with a folder entry that lacks type, id or name');
  }
  const item: FolderItem = { type: raw.type, id: raw.id, name: raw.name };
  if (typeof raw.sha1 === 'string') item.sha1 = raw.sha1;
  return item;
}

/** Narrows a marker-mode page. End of list: next_marker null, "" or absent (box-api.md §5). */
export function parseFolderPage(res: HttpResponse, marker: string | undefined): FolderPage {
  const body = parseJson(res);
  if (!Array.isArray(body.entries)) throw badShape(res, body, 'without an entries array');
  const items = body.entries.map((e) => parseItem(res, e));
  const next = body.next_marker;
  const nextMarker = typeof next === 'string' && next !== '' ? next : undefined;
  if (next !== undefined && next !== null && typeof next !== 'string')
    throw badShape(res, body, 'with a next_marker that is not a string');
  return { items, marker, nextMarker };
}

/**
 * Every page of a folder via marker pagination (`usemarker=true`, `limit=1000`). The request for the next page
 * goes out when this one is handed over, and no further one until the consumer pulls again: the caller's
 * back-pressure paces the requests, so memory stays at two pages.
 */
export async function* listFolderPages(
  opts: BoxClientOptions,
  folderId: string,
  auth: AccessTokenSource,
  options: ListFolderOptions = {},
): AsyncGenerator<FolderPage, void, undefined> {
  const limit = String(options.pageSize ?? 1000);
  const fetchPage = async (at: string | undefined): Promise<FolderPage> => {
    const query: Record<string, string> = { fields: 'type,id,name,sha1', usemarker: 'true', limit };
    if (at !== undefined) query.marker = at;
    let res: HttpResponse;
    try {
      res = await boxGet(opts, `/2.0/folders/${encodeURIComponent(folderId)}/items`, query, auth);
    } catch (err) {
      if (err instanceof BoxApiError && err.status === 404) throw new FolderNotFoundError(folderId, err);
      throw err;
    }
    const page = parseFolderPage(res, at);
    // A marker that does not move would loop forever: Box bug or hostile proxy.
    if (page.nextMarker !== undefined && page.nextMarker === at)
      throw badShape(res, undefined, 'with a next_marker equal to the current one');
    return page;
  };
  // The next page is requested as soon as this one's marker is known, and travels while the caller handles
  // this one: at most two pages in memory, and the listing no longer waits on each round trip in turn
  // (issue 8, ls throughput). Its failure, if any, surfaces after this page, in order.
  let next: Promise<FolderPage> | undefined = fetchPage(options.marker);
  let listed = 0;
  while (next) {
    const page: FolderPage = await next;
    next = undefined;
    listed += page.items.length;
    if (page.nextMarker !== undefined && listed < (options.maxItems ?? Infinity)) {
      next = fetchPage(page.nextMarker);
      // The loop awaits it (and rethrows its failure) unless the caller stops first (`ls --limit`): then
      // nobody does, and its failure must not become an unhandled rejection.
      next.catch(() => {});
    }
    yield page;
  }
}

/** Items one by one, for library users: `for await (const item of listFolderItems(...))`. */
export async function* listFolderItems(
  opts: BoxClientOptions,
  folderId: string,
  auth: AccessTokenSource,
  options: ListFolderOptions = {},
): AsyncGenerator<FolderItem, void, undefined> {
  for await (const page of listFolderPages(opts, folderId, auth, options)) yield* page.items;
}
