import { describe, expect, it } from 'vitest';
import { networkError } from '../../../src/core/http/network-error.js';
import type { Deadline } from '../../../src/core/http/deadline.js';

// A pool that does not report its connect (undici, the proxy path) can only judge by the error code. Codes that a
// kernel also returns on an ESTABLISHED connection (an ICMP unreachable after the request was written) must count
// as "may have been sent", or the in-flight marker of a spent refresh token is cleared (review 2, finding 11).
const notConnected = { wasConnected: false, expired: false, wasReceived: false } as unknown as Deadline;

function codeError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

describe('requestSent for a pool that does not report connect', () => {
  it.each(['EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])(
    '%s may come after the request was written: sent',
    (code) => {
      expect(networkError('POST /oauth2/token', codeError(code), notConnected, 30_000, false).details.requestSent).toBe(
        true,
      );
    },
  );

  it.each(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED'])(
    '%s happens before any byte is written: not sent',
    (code) => {
      expect(networkError('POST /oauth2/token', codeError(code), notConnected, 30_000, false).details.requestSent).toBe(
        false,
      );
    },
  );
});
