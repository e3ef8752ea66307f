/**
 * What the HTTP edge needs from the invite flow (core/invites/flow.ts), as two functions: the server knows
 * nothing of the store, Box or the ports the flow is built from, so its tests run against a fake.
 */
export type StartResult = { kind: 'redirect'; location: string } | { kind: 'gone' };
export type FinishResult =
  | { kind: 'connected'; email: string; login: string }
  | { kind: 'denied' }
  | { kind: 'bad_state' }
  | { kind: 'failed'; message: string };

export interface InviteFlowHandlers {
  start(token: string): Promise<StartResult>;
  finish(query: URLSearchParams): Promise<FinishResult>;
}

/** A listen address: a host literal (127.0.0.1, ::1, ...) and a port (0 = any free port, for tests). */
export interface ListenAddress {
  host: string;
  port: number;
  /** `localhost` when --listen named it: a Host header may say it too (host-check.ts). */
  name?: 'localhost';
}
