/**
 * The explicit limits of the serve edge (slowloris, oversized requests, sockets held open). Node's defaults
 * are generous for an API server (headersTimeout 60 s, requestTimeout 300 s, 16 KiB of headers); a page that
 * only ever sees two short GETs per person can be far stricter. Tests shrink the timeouts through `limits`.
 */
export interface ServerLimits {
  /** Time to receive a request's headers (slowloris): 408 and the socket closed. */
  headersTimeoutMs: number;
  /** Time to receive the whole request; at least headersTimeoutMs (Node refuses otherwise). */
  requestTimeoutMs: number;
  /** How often Node checks the two timeouts above (its default, 30 s, would make them coarse). */
  connectionsCheckingIntervalMs: number;
  /** An idle keep-alive socket is closed after this. */
  keepAliveTimeoutMs: number;
  /** Request line plus headers; more is 431. */
  maxHeaderBytes: number;
  /** The request target; longer is 414 (an invite link is ~80 bytes, a callback ~1 KiB). */
  maxUrlBytes: number;
  /** Requests on one keep-alive socket before it is closed. */
  maxRequestsPerSocket: number;
  /** Time an idle socket may stay open with no request at all. */
  socketIdleMs: number;
  /** Open sockets at once; more are refused by the kernel's accept + close (descriptor exhaustion). */
  maxConnections: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 8 * 1024,
  maxUrlBytes: 2 * 1024,
  maxRequestsPerSocket: 100,
  socketIdleMs: 60_000,
  maxConnections: 1024,
};

export function resolveLimits(partial: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) limits.requestTimeoutMs = limits.headersTimeoutMs;
  return limits;
}
