/**
 * What the keyless-check tests share (keyless-reserve-race.test.ts, refused-marker.test.ts): records, and a
 * refresh session without a key against a local token endpoint.
 */
import { closeHttpContext, createHttpContext } from '../../../../src/core/http/request.js';
import { json, startLocalServer } from '../../http/local-server.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A plaintext record whose access token has expired. */
export const rec = (n: number) => ({
  access_token: `AT${n}`,
  refresh_token: `RT${n}`,
  access_token_expires_at: iso(Date.now() - 1000),
  connected_at: iso(Date.now() - 9e6),
  updated_at: iso(Date.now() - 9e6),
  generation: 1,
});

/** The same record with its tokens sealed under key k1. */
export const sealedRec = (n: number) => ({
  ...rec(n),
  access_token: 'enc:v1:k1:AAAA',
  refresh_token: 'enc:v1:k1:BBBB',
});

/** A session on `store` whose token endpoint answers one good refresh; `cleanups` closes what it opened. */
export async function keylessSession(
  store: unknown,
  cleanups: Array<() => unknown>,
  extra: Record<string, unknown> = {},
) {
  const server = await startLocalServer([
    json(200, { access_token: 'AT9', refresh_token: 'RT9', expires_in: 3600, token_type: 'bearer' }),
  ]);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  const session = {
    store,
    http,
    apiBaseUrl: server.url,
    credentials: () => ({ clientId: 'c', clientSecret: 's' }),
    now: () => Date.now(),
    interrupts: { critical: <T>(fn: () => Promise<T>) => fn() },
    log: { debug() {} },
    warn() {},
    pid: 4242,
    host: 'h',
    refreshTimeoutMs: 5000,
    ...extra,
  };
  return { session: session as never, server };
}
