/**
 * `status`: what is connected and how healthy each connection is (issue 5). Pure: the command hands in the
 * store snapshot, the store's file facts, the configuration facts and the clock; the report never holds a
 * token or the client secret. Imports nothing heavy: `status --json` is benchmarked against `node -e 0`.
 */
import type { NeedsReconnect, RefreshInFlight, StoreDocument, StoredUser, StoreFileInfo } from './store/types.js';
import { formatTimestamp, isCanonicalTimestamp, parseTimestamp } from './store/format.js';
import { connectionSince, connectionState, healthOf, pendingEvents } from './health/state.js';
import type { HealthState } from './health/types.js';
import { keyIdOf } from './store/crypto/envelope.js';
import type { HistoryEntry } from './history/types.js';
import { reconnectCommand } from './reconnect-command.js';

/** Box kills a refresh token unused for 60 days (box-api.md §2); warn from day 50 (reliability.md F21). */
export const REFRESH_TOKEN_LIFETIME_DAYS = 60;
export const REFRESH_TOKEN_WARN_DAYS = 50;
const DAY_MS = 86_400_000;

export interface UserStatus {
  email: string;
  box_user: { id: string | null; login: string | null; name: string | null };
  connected_at: string | null;
  updated_at: string | null;
  access_token: { expires_at: string | null; expires_in_seconds: number | null; expired: boolean };
  refresh_token: {
    /** When the current refresh token was issued (rotation time); `updated_at` when the writer did not record it. */
    rotated_at: string | null;
    rotated_at_estimated: boolean;
    dies_at: string | null;
    age_days: number | null;
    warning: boolean;
    expired: boolean;
  };
  needs_reconnect: NeedsReconnect | null;
  /**
   * What a person runs to bring a dead connection back (issue 17: `box-qc invite --email ...` when serve is
   * reachable, else `box-qc connect --email ...`); null unless the state is dead.
   */
  reconnect_command: string | null;
  refresh_in_flight: RefreshInFlight | null;
  /** The connection's state and since when (issue 18, core/health/state.ts). */
  health: {
    state: HealthState;
    since: string | null;
    reason: string | null;
    /** Temporary failures in a row (degraded, expiring); 0 otherwise. */
    failures: number;
    /** Transitions recorded and not yet delivered to a notifier. */
    pending_notifications: number;
  };
  /** Present when the tokens are encrypted at rest (issue 19): the key id of the refresh token (else the access token). */
  encryption?: { key_id: string };
  check?: CheckResult;
  /** `status --email`: the user's last three audit-log events, oldest first (issue 18). */
  history?: HistoryEntry[];
}

export type CheckResult =
  | { ok: true; box_login: string }
  | { ok: false; kind: 'dead' | 'unreachable' | 'error'; code: string; message: string };

export interface ConfigStatus {
  store: {
    location: string;
    kind: 'file' | 'postgres';
    exists: boolean;
    mode: string | null;
    dir_mode: string | null;
    source: string;
    /** PostgreSQL: host, port, database and user (never the password); null for the file store. */
    server: { host: string; port: number; database: string; user: string | null } | null;
  };
  client_id_present: boolean;
  client_secret_present: boolean;
  redirect_uri: string;
  api_base_url: string;
}

export interface StatusReport {
  ok: true;
  now: string;
  users: UserStatus[];
  config: ConfigStatus;
}

export interface ConfigFacts {
  clientIdPresent: boolean;
  clientSecretPresent: boolean;
  redirectUri: string;
  apiBaseUrl: string;
  storeSource: string;
  /** BOX_QC_PUBLIC_URL is set: a dead connection is fixed with an invite link (reconnect_command). */
  publicUrlConfigured?: boolean;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : formatTimestamp(ms);
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function octalMode(mode: number | undefined): string | null {
  return mode === undefined ? null : `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

export function userStatus(email: string, doc: StoreDocument, now: number, publicUrlConfigured = false): UserStatus {
  return recordStatus(email, doc.users[email]!, now, publicUrlConfigured);
}

/**
 * A stored time as the report shows it: the stored string itself when it is already in that form (the ones
 * box-qc writes are), else formatted from its value (issue 20: 20,000 fewer formats for 10,000 users).
 */
function isoOf(raw: unknown, ms: number | undefined): string | null {
  return ms !== undefined && isCanonicalTimestamp(raw) ? raw : iso(ms);
}

/** One user's entry of the report, from the record itself (the streamed listing has no document). */
export function recordStatus(email: string, u: StoredUser, now: number, publicUrlConfigured = false): UserStatus {
  const expires = parseTimestamp(u.access_token_expires_at);
  const issued = parseTimestamp(u.refresh_token_issued_at);
  const rotated = issued ?? parseTimestamp(u.updated_at);
  const rotatedRaw = issued === undefined ? u.updated_at : u.refresh_token_issued_at;
  const age = rotated === undefined ? undefined : (now - rotated) / DAY_MS;
  const keyId = keyIdOf(u.refresh_token) ?? keyIdOf(u.access_token);
  const health = healthStatus(u, now);
  const status: UserStatus = {
    email,
    box_user: { id: str(u.box_user_id), login: str(u.box_user_login), name: str(u.box_user_name) },
    connected_at: str(u.connected_at),
    updated_at: str(u.updated_at),
    access_token: {
      expires_at: isoOf(u.access_token_expires_at, expires),
      expires_in_seconds: expires === undefined ? null : Math.round((expires - now) / 1000),
      expired: expires === undefined || expires <= now,
    },
    refresh_token: {
      rotated_at: isoOf(rotatedRaw, rotated),
      rotated_at_estimated: issued === undefined && rotated !== undefined,
      dies_at: iso(rotated === undefined ? undefined : rotated + REFRESH_TOKEN_LIFETIME_DAYS * DAY_MS),
      age_days: age === undefined ? null : Math.floor(age * 10) / 10,
      warning: age !== undefined && age >= REFRESH_TOKEN_WARN_DAYS,
      expired: age !== undefined && age >= REFRESH_TOKEN_LIFETIME_DAYS,
    },
    needs_reconnect: u.needs_reconnect ?? null,
    reconnect_command: health.state === 'dead' ? reconnectCommand(email, publicUrlConfigured) : null,
    refresh_in_flight: u.refresh_in_flight ?? null,
    health,
  };
  if (keyId !== undefined) status.encryption = { key_id: keyId };
  return status;
}

function healthStatus(u: StoreDocument['users'][string], now: number): UserStatus['health'] {
  const state = connectionState(u, now);
  const h = healthOf(u);
  const failing = state === 'degraded' || state === 'expiring';
  return {
    state,
    since: connectionSince(u),
    reason: state === 'dead' ? (u.needs_reconnect?.reason ?? null) : state === 'healthy' ? null : (h?.reason ?? null),
    failures: failing ? (h?.failures ?? 0) : 0,
    pending_notifications: pendingEvents(u).length,
  };
}

export function buildStatusReport(
  doc: StoreDocument,
  info: StoreFileInfo,
  facts: ConfigFacts,
  now: number,
  emails?: string[],
): StatusReport {
  const selected = emails ?? Object.keys(doc.users).sort();
  return {
    ok: true,
    now: iso(now)!,
    users: selected.map((e) => userStatus(e, doc, now, facts.publicUrlConfigured)),
    config: {
      store: {
        location: info.location,
        kind: info.kind,
        exists: info.exists,
        mode: octalMode(info.mode),
        dir_mode: octalMode(info.dirMode),
        source: facts.storeSource,
        server: info.server ?? null,
      },
      client_id_present: facts.clientIdPresent,
      client_secret_present: facts.clientSecretPresent,
      redirect_uri: facts.redirectUri,
      api_base_url: facts.apiBaseUrl,
    },
  };
}

/** "in 42 min", "3 h ago", "in 12 days": coarse on purpose, the absolute time is printed beside it. */
export function relativeTime(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const unit =
    abs < 90_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 90 * 60_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 36 * 3_600_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / DAY_MS)} days`;
  return deltaMs >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** --check exit code: 4 if any connection is dead (a person must reconnect), else 75 if Box was unreachable. */
export function checkExitCode(users: UserStatus[]): number {
  const checks = users.map((u) => u.check).filter((c): c is CheckResult => c !== undefined);
  if (checks.some((c) => !c.ok && c.kind === 'dead')) return 4;
  if (checks.some((c) => !c.ok && c.kind === 'unreachable')) return 75;
  if (checks.some((c) => !c.ok)) return 1;
  return 0;
}

/** Runs `checkOne` for each user, one after the other (each may refresh under that user's lock). */
export async function runChecks(users: UserStatus[], checkOne: (email: string) => Promise<CheckResult>): Promise<void> {
  for (const u of users) u.check = await checkOne(u.email);
}
