/**
 * The invite flow (core/invites/flow.ts) driven in process against the emulator, for one store backend: the
 * ports `box-qc serve` passes, a scripted browser (consent page, grant or deny) and a count of the requests
 * that reached the emulator's token endpoint ("nothing sent to Box").
 */
import { expect } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { closeHttpContext, createHttpContext, type HttpContext } from '../../../src/core/http/request.js';
import type { InviteFlowPorts } from '../../../src/core/invites/flow.js';
import type { TokenStore } from '../../../src/core/store/types.js';
import { consent } from '../../e2e/connect-helpers.js';

export const PUBLIC_PATH = '/box-qc';

export interface FlowKit {
  emu: Emulator;
  http: HttpContext;
  ports(store: TokenStore, over?: Partial<InviteFlowPorts>): InviteFlowPorts;
  /** Requests that reached /oauth2/token so far. */
  tokenRequests(): number;
  /** From the authorize URL to Box's redirect back to the public callback: its query. */
  browse(location: string, decision?: 'grant' | 'deny'): Promise<URLSearchParams>;
  close(): Promise<void>;
}

export async function startFlowKit(): Promise<FlowKit> {
  const emu = await startEmulator();
  const http = await createHttpContext({ env: {}, log: { debug() {} } });
  // Any port: the emulator accepts the registered loopback callback on every port (box-api.md §1).
  const publicUrl = new URL(`http://127.0.0.1:8080${PUBLIC_PATH}`);
  return {
    emu,
    http,
    ports: (store, over = {}) => ({
      store,
      http: async () => http,
      apiBaseUrl: new URL(emu.apiBaseUrl),
      authorizeUrl: new URL(emu.authorizeUrl),
      credentials: { clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' },
      publicUrl,
      now: () => Date.now(),
      critical: (fn) => fn(),
      ...over,
    }),
    tokenRequests: () => emu.requests.filter((r) => r.path === '/oauth2/token').length,
    async browse(location, decision = 'grant') {
      const back = new URL(await consent(location, decision));
      expect(`${back.origin}${back.pathname}`).toBe(`${publicUrl.href}/callback`);
      return back.searchParams;
    },
    async close() {
      await closeHttpContext(http);
      await emu.close();
    },
  };
}
