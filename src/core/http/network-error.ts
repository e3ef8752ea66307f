/**
 * NetworkError and how sendRequest names a transport failure (core/http/request.ts): the message, and whether the
 * request may have reached Box (details.requestSent, issue 15 interface A).
 */
import { TemporaryError, type BoxQcErrorOptions } from '../../errors.js';
import type { Deadline } from './deadline.js';

/**
 * The network failed (refused, reset, DNS, timeout) before a full answer arrived. Exit 75.
 * `details.requestSent` (interface A, issue 15): false only when provably nothing of the request reached the
 * wire (DNS failure, refused, connect timeout, TLS handshake failure, proxy tunnel refused); true whenever it
 * may have, including every timeout after the connection was up. Then Box may have acted on it (a refresh
 * token may be spent), and the hint does not say that nothing was lost.
 */
export class NetworkError extends TemporaryError {
  declare readonly details: { requestSent: boolean } & Record<string, unknown>;
  constructor(message: string, options: BoxQcErrorOptions & { requestSent: boolean }) {
    const { requestSent, ...rest } = options;
    super(message, {
      code: 'E_NETWORK',
      ...(requestSent ? { hint: 'the request may have reached Box before the failure; try again later' } : {}),
      ...rest,
      details: { ...rest.details, requestSent },
    });
  }
}

/**
 * Errors that happen before any byte of the request can reach the server, for pools that do not report connect.
 * Not EHOSTUNREACH / ENETUNREACH: the kernel also returns those on an established connection (an ICMP
 * unreachable after the request was written), so they prove nothing about the refresh token (review 2, #11).
 */
const NOT_SENT_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'ECONNREFUSED',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
]);

function provablyNotSent(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 3;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && NOT_SENT_CODES.has(e.code)) return true;
    // undici's proxy agent: the proxy refused the CONNECT tunnel, nothing went to Box.
    if (typeof e.message === 'string' && / !== 200 when HTTP Tunneling$/.test(e.message)) return true;
  }
  return false;
}

function seconds(ms: number): string {
  return `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;
}

/** The NetworkError for a failed pool.send: message, requestSent and hint (interface A). */
export function networkError(
  label: string,
  err: unknown,
  deadline: Deadline,
  timeoutMs: number,
  reportsConnect: boolean,
): NetworkError {
  // Connected: the request may be on the wire. A pool that reports connect and never did: nothing was sent.
  // Otherwise judge by the error; a deadline that expired then leaves it unknown, so "sent".
  const requestSent = deadline.wasConnected || (!reportsConnect && (deadline.expired || !provablyNotSent(err)));
  let what: string;
  if (!deadline.expired) what = describeNetworkError(err);
  else if (!requestSent) what = `could not connect within ${seconds(timeoutMs)}`;
  else
    what = `${deadline.wasReceived ? 'answer not complete' : 'no answer'} within ${seconds(timeoutMs)} (Box may have received it)`;
  return new NetworkError(`${label}: ${what}`, { cause: err, requestSent });
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.message === 'string' ? e.message.split('\n')[0]!.slice(0, 120) : 'network error';
}
