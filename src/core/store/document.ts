/**
 * Pure helpers on a StoreDocument: the save rules of issue 3 in one place, so `connect`, `refresh` and the
 * session code cannot disagree. They mutate the document they are given (inside `store.update(...)`) and
 * replace nested objects rather than editing them in place (group commit relies on that; see file-store.ts).
 */
import { ExitCode, StoreError } from '../../errors.js';
import { formatTimestamp, normalizeStoreEmail } from './format.js';
import type { BoxIdentity, ReconnectReason, StoreDocument, StoredUser, TokenPair } from './types.js';

/**
 * Box answers e.g. 3895 s, never assume 3600 (issue 3): keep a 60 s margin, but never less than 60 s.
 * 0 (or less) means "unknown life" (a malformed answer, issue 15 item 2): the token counts as expired at once.
 */
export function accessTokenLifetimeSeconds(expiresIn: number): number {
  if (!Number.isFinite(expiresIn)) throw new TypeError('expires_in must be a finite number');
  if (expiresIn <= 0) return 0;
  return Math.max(expiresIn - 60, 60);
}

/**
 * The record no longer holds the refresh token a refresh started from (issue 15 item 5, interface C):
 * someone else saved (or removed) it while our POST was in flight. Exit 75: our pair is not written over a
 * newer one.
 */
export class FencedSaveError extends StoreError {
  override readonly exitCode: number = ExitCode.TEMPFAIL;
  constructor(path: string, email: string) {
    super(
      'E_FENCED',
      path,
      `${email}: the stored record changed while this refresh was in flight (another process saved a newer pair or removed the user); it was kept, not overwritten`,
      {
        hint: 'nothing to do now: the next run uses what the store holds (run box-qc status to check the user)',
        details: { email },
      },
    );
  }
}

export interface SaveOptions {
  /** Write only if the record still holds this refresh token, else throw FencedSaveError. */
  fence?: { refreshToken: string };
}

export function getUser(doc: StoreDocument, email: string): StoredUser | undefined {
  const key = normalizeStoreEmail(email);
  return Object.hasOwn(doc.users, key) ? doc.users[key] : undefined;
}

export function listUsers(doc: StoreDocument): string[] {
  return Object.keys(doc.users).sort();
}

/**
 * Saves a freshly received token pair. `now` is the time the response was received (ms). Keeps
 * `connected_at` and unknown fields, keeps the Box identity when none is given, bumps the generation and
 * clears the reconnect / in-flight markers.
 */
export function saveUserTokens(
  doc: StoreDocument,
  email: string,
  pair: TokenPair,
  identity: BoxIdentity | undefined,
  now: number,
  options: SaveOptions = {},
): StoredUser {
  const key = normalizeStoreEmail(email);
  const prev = getUser(doc, key);
  if (options.fence && prev?.refresh_token !== options.fence.refreshToken) throw new FencedSaveError('', key);
  const at = formatTimestamp(now);
  const next: StoredUser = {
    ...(prev ?? {}),
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    access_token_expires_at: formatTimestamp(now + accessTokenLifetimeSeconds(pair.expiresIn) * 1000),
    connected_at: prev?.connected_at ?? at,
    updated_at: at,
    generation: (prev?.generation ?? 0) + 1,
    refresh_token_issued_at: at,
  };
  if (identity) {
    next.box_user_id = identity.id;
    next.box_user_login = identity.login;
    next.box_user_name = identity.name;
  }
  delete next.needs_reconnect;
  delete next.refresh_in_flight;
  doc.users[key] = next;
  return next;
}

/** Box rejected the refresh token (or an interrupted refresh cannot be recovered): keep the record, mark it. */
export function markNeedsReconnect(
  doc: StoreDocument,
  email: string,
  reason: ReconnectReason,
  message: string,
  now: number,
): StoredUser | undefined {
  const prev = getUser(doc, email);
  if (!prev) return undefined;
  const next: StoredUser = { ...prev, needs_reconnect: { reason, message, at: formatTimestamp(now) } };
  delete next.refresh_in_flight;
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

export interface InFlightOwner {
  pid: number;
  host: string;
  /** Per-process random id: "our own marker" means this matches (REVIEW-2 #5). */
  nonce?: string;
  /** The owner's PID namespace (/proc/self/ns/pid): a pid only means something within it. */
  pid_ns?: string;
  /** How long the owner may still save its answer after `since` (ms): waiters use the larger of theirs and this. */
  bound_ms?: number;
}

function identityOf(owner: InFlightOwner): Pick<InFlightOwner, 'nonce' | 'pid_ns' | 'bound_ms'> {
  const id: Pick<InFlightOwner, 'nonce' | 'pid_ns' | 'bound_ms'> = {};
  if (owner.nonce !== undefined) id.nonce = owner.nonce;
  if (owner.pid_ns !== undefined) id.pid_ns = owner.pid_ns;
  if (owner.bound_ms !== undefined) id.bound_ms = owner.bound_ms;
  return id;
}

/** Recorded before the refresh POST, so a kill inside the window is reported, never silent (F8). */
export function markInFlight(
  doc: StoreDocument,
  email: string,
  owner: InFlightOwner,
  now: number,
): StoredUser | undefined {
  const prev = getUser(doc, email);
  if (!prev) return undefined;
  const next: StoredUser = {
    ...prev,
    refresh_in_flight: {
      since: formatTimestamp(now),
      pid: owner.pid,
      host: owner.host,
      generation: prev.generation ?? 0,
      ...identityOf(owner),
    },
  };
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

/** Clears the marker; with `owner`, only a marker that owner wrote (never another process's). */
export function clearInFlight(
  doc: StoreDocument,
  email: string,
  owner?: InFlightOwner & { since: string },
): StoredUser | undefined {
  const prev = getUser(doc, email);
  const m = prev?.refresh_in_flight;
  if (!prev || m === undefined) return prev;
  if (owner && (m.pid !== owner.pid || m.host !== owner.host || m.since !== owner.since || m.nonce !== owner.nonce))
    return prev;
  const next: StoredUser = { ...prev };
  delete next.refresh_in_flight;
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

/**
 * A fenced-out pair (FencedSaveError): kept beside the newer record in `refresh_fenced_out`, never in its
 * place, so a refresh token Box may consider live is not silently dropped (an operator, or a later version,
 * can still use it if the record's own pair turns out dead). Nothing when the user was removed meanwhile:
 * a disconnect is not undone. Only the latest fenced-out pair is kept.
 */
export function setAsideFencedPair(
  doc: StoreDocument,
  email: string,
  pair: TokenPair,
  fromGeneration: number,
  now: number,
): boolean {
  const prev = getUser(doc, email);
  if (!prev) return false;
  const at = formatTimestamp(now);
  doc.users[normalizeStoreEmail(email)] = {
    ...prev,
    refresh_fenced_out: {
      access_token: pair.accessToken,
      refresh_token: pair.refreshToken,
      access_token_expires_at: formatTimestamp(now + accessTokenLifetimeSeconds(pair.expiresIn) * 1000),
      received_at: at,
      from_generation: fromGeneration,
    },
  };
  return true;
}

/** Returns whether a record was removed. */
export function removeUser(doc: StoreDocument, email: string): boolean {
  const key = normalizeStoreEmail(email);
  if (!Object.hasOwn(doc.users, key)) return false;
  delete doc.users[key];
  return true;
}
