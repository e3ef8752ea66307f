/**
 * How an HttpPool closes (both transports, core/http/request.ts): a POST in flight is let finish, a GET in flight is
 * cut at once, then every socket goes.
 *
 * Why: the POST that carries a refresh token is the one request whose answer must never be thrown away. Box
 * rotates the pair when it answers, so a socket destroyed under it (ECONNRESET) loses the rotated refresh
 * token for good: a command that ends while a refresh started by `ls`'s prefetched page is still in flight, a
 * library user's close() (REVIEW-1 finding 5). Each POST is bounded by its own deadline, so close() is too.
 * A GET in flight is the next page `ls --limit` fetched ahead, which nobody wants any more: waiting for it
 * could cost the whole request timeout at every exit.
 */
import type { HttpPool, PoolRequest, PoolResponse } from './pool.js';

const POOL_CLOSED = 'E_POOL_CLOSED';

/**
 * A GET cut by close(). Not a network failure: sendRequest turns it into an OperationError, so boxGet does
 * not retry it. A retry would send the request again on a fresh connection after the command ended, and
 * keep the process alive through its backoff (`ls | head` lingered seconds after the reader left).
 */
export function isPoolClosed(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === POOL_CLOSED;
}

export function withGracefulClose(pool: HttpPool): HttpPool {
  const posts = new Set<Promise<unknown>>();
  let cutGets = new AbortController();
  const cutGet = (req: PoolRequest): Promise<PoolResponse> => {
    const cut = cutGets.signal;
    return pool.send({ ...req, signal: AbortSignal.any([req.signal, cut]) }).catch((err: unknown) => {
      throw cut.aborted && !req.signal.aborted
        ? Object.assign(new Error('connection pool closed', { cause: err }), { code: POOL_CLOSED })
        : err;
    });
  };
  const graceful: HttpPool = {
    send(req: PoolRequest): Promise<PoolResponse> {
      if (req.method !== 'POST') return cutGet(req);
      const sent = pool.send(req);
      const settled = sent.then(
        () => undefined,
        () => undefined,
      );
      posts.add(settled);
      void settled.then(() => posts.delete(settled));
      return sent;
    },
    async close() {
      cutGets.abort(new Error('connection pool closed'));
      cutGets = new AbortController();
      // A POST sent while we wait (a refresh that was already under way) is waited for too.
      while (posts.size > 0) await Promise.all([...posts]);
      await pool.close();
    },
  };
  if (pool.prepare) graceful.prepare = (url: URL) => pool.prepare!(url);
  if (pool.reportsConnect !== undefined)
    Object.defineProperty(graceful, 'reportsConnect', { value: pool.reportsConnect, enumerable: true });
  return graceful;
}
