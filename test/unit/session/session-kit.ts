/** Shared by the issue-15 session tests: a scripted token endpoint, an in-memory store and a Session on them. */
import { closeHttpContext, createHttpContext } from '../../../src/core/http/request.js';
import type { Session } from '../../../src/core/session.js';
import { formatTimestamp } from '../../../src/core/store/format.js';
import type { StoredUser } from '../../../src/core/store/types.js';
import { json, startLocalServer, type Recorded, type Reply } from '../http/local-server.js';
import { memoryStore } from './memory-store.js';

export const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
export const EMAIL = 'a@x.com';

export function user(over: Partial<StoredUser> = {}): StoredUser {
  return {
    access_token: 'AT1',
    refresh_token: 'RT1',
    access_token_expires_at: formatTimestamp(NOW - 1000),
    connected_at: formatTimestamp(NOW - 86_400_000),
    updated_at: formatTimestamp(NOW - 3_600_000),
    generation: 3,
    ...over,
  };
}

export const GOOD = (n: number) => ({
  access_token: `AT${n}`,
  refresh_token: `RT${n}`,
  expires_in: 3600,
  token_type: 'bearer',
});
export const pair = (n: number) => json(200, GOOD(n));

export const grantsSent = (server: { requests: Recorded[] }) =>
  server.requests.map((r) => new URLSearchParams(r.body).get('refresh_token'));

export async function sessionKit(
  u: StoredUser | undefined,
  replies: Reply[] | ((req: Recorded, n: number) => Reply),
  cleanups: Array<() => Promise<void>>,
  over: Partial<Session> = {},
) {
  const server = await startLocalServer(replies);
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  cleanups.push(server.close, () => closeHttpContext(http));
  const store = memoryStore({ version: 1, users: u ? { [EMAIL]: u } : {} });
  const warnings: string[] = [];
  const clock = { now: NOW };
  const session: Session = {
    store,
    http,
    apiBaseUrl: server.url,
    credentials: () => ({ clientId: 'cid', clientSecret: 'sec' }),
    now: () => clock.now,
    interrupts: { critical: (fn) => fn() },
    log: { debug() {} },
    warn: (line) => warnings.push(line),
    pid: 4242,
    host: 'test-host',
    refreshTimeoutMs: 5000,
    ...over,
  };
  return { server, store, session, warnings, clock };
}
