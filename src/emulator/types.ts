/**
 * The emulator's public shapes: the handle startEmulator() returns and the records it hands out. Their own
 * module, apart from index.ts (which builds the handle) and oauth-routes.ts (which fills the pending
 * authorizations), so that control.ts and state.ts can name them without an import cycle (issue 16 item 3).
 */
import type { EmulatorClock } from './clock.js';
import type { FaultRule } from './faults.js';
import type { ChainEvent } from './grants.js';
import type { EmulatorUser, ResolvedOptions, RuntimeOptions } from './options.js';

export interface PendingAuthorization {
  id: string;
  clientId: string;
  /** As sent; undefined when the client has one registered URI and sent none. */
  redirectUriParam: string | undefined;
  redirectUri: string;
  state: string | undefined;
  scope: string;
  codeChallenge: string | undefined;
  codeChallengeMethod: string;
}

export interface MintRequest {
  login: string;
  clientId?: string | undefined;
}

export interface MintResult {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user: EmulatorUser;
}

export interface ChainCheck {
  login: string;
  /** True when every refresh token presented was the latest one issued for its grant. */
  ok: boolean;
  refreshes: number;
  committed: number;
  stale: ChainEvent[];
}

export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (serves /api/oauth2/authorize, /oauth2/*, /2.0/*). */
  readonly url: string;
  readonly authorizeUrl: string;
  readonly apiBaseUrl: string;
  readonly port: number;
  readonly clock: EmulatorClock;
  readonly faults: { add(rule: FaultRule): void; clear(): void; list(): Array<FaultRule & { used: number }> };
  /**
   * Every request except the control API, in order. Tests may read it; never print tokens from it (it has
   * none: tokens travel in POST bodies and Authorization headers, which are not recorded).
   */
  readonly requests: RequestLogEntry[];
  options(): ResolvedOptions;
  /** BOX_* variables that point box-qc at this emulator (default client), plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  setOptions(partial: RuntimeOptions): void;
  stats(): Stats;
  resetStats(): void;
  chains(login?: string): Record<string, ChainEvent[]>;
  chainCheck(login: string): ChainCheck;
  isLive(token: string): boolean;
  /** Every access and refresh token ever issued, dead or alive (issue 19: scan a store or a dump for any of them). */
  issuedTokens(): string[];
  /** The newest pair issued to a user (their most recent grant), e.g. to check a store holds the latest. */
  latestTokens(
    login: string,
  ): { access_token: string; refresh_token: string; generation: number; grantId: number } | undefined;
  /** A connected user's token pair without a browser (a fresh grant for the default client). */
  mint(req: MintRequest): MintResult;
  /** Authorizations waiting on the consent page. */
  pending(): PendingAuthorization[];
  /** Answers a pending consent (the latest when id is omitted) and returns the redirect URL Box would send. */
  approve(id?: string, login?: string): string | undefined;
  deny(id?: string): string | undefined;
  close(): Promise<void>;
}

export interface RequestLogEntry {
  time: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /**
   * The query string without its `?` ('' when none), as sent: the authorize query carries state and PKCE
   * values, and a test reads it to prove nothing else (an invite token) travelled to Box in a URL.
   */
  query: string;
  /** The Referer header as sent (a Referrer-Policy the client ignored would show here). */
  referer: string | undefined;
  route: string;
  grantType: string | undefined;
  /** 0 when the connection was dropped without an answer. */
  status: number;
  requestId: string;
  fault?: string;
}

export interface Stats {
  total: number;
  byRoute: Record<string, number>;
  byGrantType: Record<string, number>;
  byStatus: Record<string, number>;
  faultsApplied: number;
}
