/**
 * What a transport is to sendRequest (core/http/request.ts): a pool that sends one encoded request and returns status,
 * headers and text. Its own module so that the two transports (node:http, undici) and sendRequest depend on it,
 * not on each other.
 */
import type { RequestProgress } from './deadline.js';

/** One request as a pool sends it: headers final, body already encoded. */
export interface PoolRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal;
  /** The request's deadline hears of the connection and of every chunk of the answer (core/http/deadline.ts). */
  progress?: RequestProgress;
}

export interface PoolResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Sends requests over kept-alive connections. Connections (and undici, or node:http) are made on the first
 * request: a `token` run with a fresh access token loads neither (issue 8, lock storm). Shared by every copy
 * of the context (`{ ...ctx, timeoutMs }`), so copies reuse one pool.
 */
export interface HttpPool {
  /** Rejects with the transport's own error (a `code` such as ECONNREFUSED); sendRequest names it. */
  send(req: PoolRequest): Promise<PoolResponse>;
  close(): Promise<void>;
  /**
   * The pool calls progress.connected() once the connection (and TLS) is up, so a failure before that
   * provably sent nothing. Without it, sendRequest judges by the error (NOT_SENT_CODES).
   */
  readonly reportsConnect?: boolean;
  /**
   * Loads what a request to `url` will need (the protocol's module) without sending anything, so that a
   * request made after some waiting (the refresh POST, after the store's marker write) does not then wait for
   * it: the loading runs while the store's writes are on disk (issue 20: ~8 ms of every refresh).
   */
  prepare?(url: URL): void;
}

/** The body as text. A leading UTF-8 byte order mark is dropped, as undici's body.text() and WHATWG fetch do. */
export function decodeBody(chunks: Buffer[], length: number): string {
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  return buf.toString('utf8', bom ? 3 : 0);
}
