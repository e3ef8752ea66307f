/**
 * Emulator options and their defaults. Every behaviour box-api.md marks UNCONFIRMED is a switch here, so
 * box-qc can be tested under each variant (issue 4).
 */
export type RotationMode =
  /** Default; what Box's docs promise: a used refresh token is dead at once; the old AT lives until expiry. */
  | 'strict'
  /** box-api.md §2 inferred model: replaying the just-used RT returns the same successor pair until that pair is first used. */
  | 'box-grace'
  /** RFC 6819 §5.2.2.3 style: replaying a dead RT revokes the whole grant. */
  | 'family';

export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** Scopes configured on the app; `scope` on authorize must be a subset. */
  scopes?: string[];
}

export interface EmulatorUser {
  id: string;
  login: string;
  name: string;
}

export interface EmulatorOptions {
  /** 0 (default) picks a free port. The host is always 127.0.0.1. */
  port?: number;
  clients?: EmulatorClient[];
  users?: EmulatorUser[];
  /**
   * More redirect URIs registered on every client (a Box app may list several: the loopback one and a served
   * callback such as https://qc.example.com/box-qc/callback).
   */
  redirectUris?: string[];
  /** Skip the consent page: authorize redirects at once with a code (default false). */
  autoApprove?: boolean;
  /** Login of the user who signs in and approves (default: the first user). Unknown logins are created. */
  approveAs?: string;
  /** box-api.md §1: loopback redirect URIs may use any port (default true, per [DOC-setup]). */
  loopbackAnyPort?: boolean;
  rotation?: RotationMode;
  /** Access token lifetime (default 3600 s). */
  accessTokenTtlSeconds?: number;
  /** When set above accessTokenTtlSeconds, each expires_in is drawn from [ttl, max] (Box has sent 3895, 4123). */
  accessTokenTtlMaxSeconds?: number;
  /** Refresh token lifetime after issue (default 60 days). */
  refreshTokenTtlSeconds?: number;
  /** Authorization code lifetime (default 30 s). */
  codeTtlSeconds?: number;
  /** WWW-Authenticate error for an expired access token (box-api.md §6, UNCONFIRMED; default invalid_token). */
  expiredTokenVariant?: 'invalid_token' | 'expired_token';
  /** 401 header when no Authorization header is sent (UNCONFIRMED): bare realm (default) or invalid_token. */
  missingTokenVariant?: 'realm' | 'invalid_token';
  /** How marker mode says "no more pages" (box-api.md §5): next_marker null (default), "" or absent. */
  markerEnd?: 'null' | 'empty' | 'absent';
  /** Unknown grant_type: unsupported_grant_type (default, RFC 6749) or invalid_request (box-api.md §2 text). */
  unknownGrantError?: 'unsupported_grant_type' | 'invalid_request';
  /** HTTP status for invalid_client (UNCONFIRMED, default 400). */
  invalidClientStatus?: 400 | 401;
  /** Require redirect_uri at the token endpoint when authorize carried one (RFC 6749 §4.1.3; default false: Box's own curl sample omits it). */
  requireRedirectUriAtToken?: boolean;
  /** Freeze the clock at start: time then moves only through clock.advance() (default false: real time + offset). */
  freezeClock?: boolean;
  /** Seed for the generated folder tree (default 1). */
  seed?: number;
  /** Items in the root folder "0" (default 250); generated on demand, so 1,000,000+ is fine. */
  rootItems?: number;
}

export type ResolvedOptions = Required<
  Omit<EmulatorOptions, 'port' | 'accessTokenTtlMaxSeconds' | 'approveAs' | 'redirectUris'>
> & {
  port: number;
  accessTokenTtlMaxSeconds: number | undefined;
  approveAs: string;
};

export const DEFAULT_CLIENT: EmulatorClient = {
  clientId: 'emulator-client-id',
  clientSecret: 'emulator-client-secret',
  redirectUris: [
    'http://127.0.0.1/callback',
    'http://127.0.0.1:53117/callback',
    'http://localhost/callback',
    'http://[::1]/callback',
    // A `box-qc serve` public callback (BOX_QC_PUBLIC_URL=http://127.0.0.1:<port>/box-qc, issue 17), the app's
    // second redirect URI beside the loopback one.
    'http://127.0.0.1/box-qc/callback',
  ],
  scopes: ['root_readwrite', 'root_readonly', 'manage_webhook'],
};

export const DEFAULT_USERS: EmulatorUser[] = [
  { id: '11111', login: 'alice@example.com', name: 'Alice Example' },
  { id: '22222', login: 'bob@example.com', name: 'Bob Example' },
];

export function resolveOptions(o: EmulatorOptions): ResolvedOptions {
  const users = (o.users ?? DEFAULT_USERS).map((u) => ({ ...u, login: u.login.toLowerCase() }));
  return {
    port: o.port ?? 0,
    clients: (o.clients ?? [DEFAULT_CLIENT]).map((c) => ({
      ...c,
      redirectUris: [...c.redirectUris, ...(o.redirectUris ?? [])],
    })),
    users,
    autoApprove: o.autoApprove ?? false,
    approveAs: (o.approveAs ?? users[0]?.login ?? 'alice@example.com').toLowerCase(),
    loopbackAnyPort: o.loopbackAnyPort ?? true,
    rotation: o.rotation ?? 'strict',
    accessTokenTtlSeconds: o.accessTokenTtlSeconds ?? 3600,
    accessTokenTtlMaxSeconds: o.accessTokenTtlMaxSeconds,
    refreshTokenTtlSeconds: o.refreshTokenTtlSeconds ?? 60 * 24 * 3600,
    codeTtlSeconds: o.codeTtlSeconds ?? 30,
    expiredTokenVariant: o.expiredTokenVariant ?? 'invalid_token',
    missingTokenVariant: o.missingTokenVariant ?? 'realm',
    markerEnd: o.markerEnd ?? 'null',
    unknownGrantError: o.unknownGrantError ?? 'unsupported_grant_type',
    invalidClientStatus: o.invalidClientStatus ?? 400,
    requireRedirectUriAtToken: o.requireRedirectUriAtToken ?? false,
    freezeClock: o.freezeClock ?? false,
    seed: o.seed ?? 1,
    rootItems: o.rootItems ?? 250,
  };
}

/** Options that make sense to change while running (setOptions). */
export type RuntimeOptions = Partial<Omit<EmulatorOptions, 'port'>>;

export function applyRuntimeOptions(current: ResolvedOptions, partial: RuntimeOptions): ResolvedOptions {
  const merged = { ...current };
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined && k !== 'port') (merged as Record<string, unknown>)[k] = v;
  }
  if (partial.users) merged.users = partial.users.map((u) => ({ ...u, login: u.login.toLowerCase() }));
  if (partial.approveAs) merged.approveAs = partial.approveAs.toLowerCase();
  return merged;
}
