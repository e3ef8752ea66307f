/** The emulator's mutable state, shared by the routes, the fault layer and the control API. */
import type { IncomingMessage } from 'node:http';
import type { EmulatorClock } from './clock.js';
import type { ResolvedOptions } from './options.js';
import type { ChainEvent, GrantStore } from './grants.js';
import type { PendingAuthorization, RequestLogEntry, Stats } from './types.js';
import type { FaultSet } from './faults.js';

export interface RequestContext {
  req: IncomingMessage;
  method: string;
  url: URL;
  requestId: string;
  /** Clock time the request arrived. */
  receivedAt: number;
  body: string;
  /** The parsed body when it was application/x-www-form-urlencoded. */
  form: URLSearchParams | undefined;
  grantType: string | undefined;
  /** The route key used for stats, e.g. "POST /oauth2/token". */
  route: string;
  /** Set by the refresh handler so the fault layer can record whether the answer reached the client. */
  chainEvent?: ChainEvent | undefined;
}

export interface EmulatorState {
  options: ResolvedOptions;
  clock: EmulatorClock;
  grants: GrantStore;
  pending: Map<string, PendingAuthorization>;
  faults: FaultSet;
  stats: Stats;
  requests: RequestLogEntry[];
}

export function emptyStats(): Stats {
  return { total: 0, byRoute: {}, byGrantType: {}, byStatus: {}, faultsApplied: 0 };
}
