/**
 * A local Box for tests, the demo and users' own CI (issue 4): Box's OAuth 2.0 endpoints and the 2.0 API
 * calls box-qc makes, on 127.0.0.1, as box-api.md describes them. Exported as `box-qc/emulator`.
 *
 *   const emu = await startEmulator({ autoApprove: true });
 *   spawn('box-qc', ['status'], { env: { ...process.env, ...emu.env() } });
 *   await emu.close();
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createClock } from './clock.js';
import { applyRuntimeOptions, resolveOptions, type EmulatorOptions } from './options.js';
import { GrantStore } from './grants.js';
import { FaultSet } from './faults.js';
import { emptyStats, type EmulatorState } from './state.js';
import { handleRequest, type ServerHooks } from './server.js';
import { decide } from './oauth-routes.js';
import type { Emulator } from './types.js';

export type { EmulatorOptions, EmulatorClient, EmulatorUser, RotationMode, RuntimeOptions } from './options.js';
export { DEFAULT_CLIENT, DEFAULT_USERS } from './options.js';
export type { FaultRule, FaultAction } from './faults.js';
export type { ChainEvent } from './grants.js';
export type { EmulatorClock } from './clock.js';
export type {
  ChainCheck,
  Emulator,
  MintRequest,
  MintResult,
  PendingAuthorization,
  RequestLogEntry,
  Stats,
} from './types.js';

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  let resolved = resolveOptions(options);
  const clock = createClock(resolved.freezeClock);
  const state: EmulatorState = {
    get options() {
      return resolved;
    },
    clock,
    grants: new GrantStore(() => resolved, clock.now),
    pending: new Map(),
    faults: new FaultSet(),
    stats: emptyStats(),
    requests: [],
  };
  const sockets = new Set<Socket>();
  const hooks: ServerHooks = { timers: new Set(), handle: () => emulator };
  const server = createServer((req, res) => {
    handleRequest(state, hooks, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server, resolved.port);
  const url = `http://127.0.0.1:${port}`;
  const latestPending = () => [...state.pending.keys()].at(-1);

  const emulator: Emulator = {
    url,
    authorizeUrl: `${url}/api/oauth2/authorize`,
    apiBaseUrl: url,
    port,
    clock,
    faults: state.faults,
    requests: state.requests,
    options: () => resolved,
    env(extra = {}) {
      const client = resolved.clients[0]!;
      return {
        BOX_CLIENT_ID: client.clientId,
        BOX_CLIENT_SECRET: client.clientSecret,
        BOX_API_BASE_URL: url,
        BOX_AUTHORIZE_URL: `${url}/api/oauth2/authorize`,
        ...extra,
      };
    },
    setOptions(partial) {
      resolved = applyRuntimeOptions(resolved, partial);
    },
    stats: () => structuredClone(state.stats),
    resetStats() {
      state.stats = emptyStats();
      state.requests.length = 0;
    },
    chains(login) {
      if (login) return { [login.toLowerCase()]: [...state.grants.chainOf(login)] };
      return Object.fromEntries([...state.grants.chains].map(([k, v]) => [k, [...v]]));
    },
    chainCheck(login) {
      const events = state.grants.chainOf(login);
      const stale = events.filter((e) => !e.presentedWasLatest);
      return {
        login: login.toLowerCase(),
        ok: stale.length === 0,
        refreshes: events.length,
        committed: events.filter((e) => e.committedAt !== undefined).length,
        stale,
      };
    },
    isLive: (token) => state.grants.isLive(token),
    issuedTokens: () => state.grants.grants.flatMap((g) => g.pairs.flatMap((p) => [p.accessToken, p.refreshToken])),
    latestTokens(login) {
      const grant = state.grants.grants.filter((g) => g.login === login.toLowerCase()).at(-1);
      if (!grant) return undefined;
      const l = grant.latest;
      return {
        access_token: l.accessToken,
        refresh_token: l.refreshToken,
        generation: l.generation,
        grantId: grant.id,
      };
    },
    mint({ login, clientId }) {
      const user = state.grants.userFor(login);
      const rec = state.grants.createGrant(
        user.login,
        clientId ?? resolved.clients[0]!.clientId,
        (resolved.clients[0]!.scopes ?? []).join(' '),
      );
      return {
        access_token: rec.accessToken,
        refresh_token: rec.refreshToken,
        expires_in: rec.expiresIn,
        user: { ...user },
      };
    },
    pending: () => [...state.pending.values()].map((p) => ({ ...p })),
    approve(id, login) {
      const key = id ?? latestPending();
      return key === undefined ? undefined : decide(state, key, 'grant', login);
    },
    deny(id) {
      const key = id ?? latestPending();
      return key === undefined ? undefined : decide(state, key, 'deny');
    },
    async close() {
      for (const t of hooks.timers) clearTimeout(t);
      hooks.timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
  return emulator;
}
