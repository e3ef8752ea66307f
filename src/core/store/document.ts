/**
 * Pure helpers on a StoreDocument: the save rules of issue 3 in one place, so `connect`, `refresh` and the
 * session code cannot disagree. They mutate the document they are given (inside `store.update(...)`) and
 * replace nested objects rather than editing them in place (group commit relies on that; see file-store.ts).
 */
import { formatTimestamp, normalizeStoreEmail } from './format.js';
import type { BoxIdentity, ReconnectReason, StoreDocument, StoredUser, TokenPair } from './types.js';

/** Box answers e.g. 3895 s, never assume 3600 (issue 3): keep a 60 s margin, but never less than 60 s. */
export function accessTokenLifetimeSeconds(expiresIn: number): number {
  if (!Number.isFinite(expiresIn)) throw new TypeError('expires_in must be a finite number');
  return Math.max(expiresIn - 60, 60);
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
): StoredUser {
  const key = normalizeStoreEmail(email);
  const prev = getUser(doc, key);
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
}

/** Recorded before the refresh POST, so a kill inside the window is reported, never silent (F8). */
export function markInFlight(doc: StoreDocument, email: string, owner: InFlightOwner, now: number): StoredUser | undefined {
  const prev = getUser(doc, email);
  if (!prev) return undefined;
  const next: StoredUser = {
    ...prev,
    refresh_in_flight: { since: formatTimestamp(now), pid: owner.pid, host: owner.host, generation: prev.generation ?? 0 },
  };
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

export function clearInFlight(doc: StoreDocument, email: string): StoredUser | undefined {
  const prev = getUser(doc, email);
  if (!prev || prev.refresh_in_flight === undefined) return prev;
  const next: StoredUser = { ...prev };
  delete next.refresh_in_flight;
  doc.users[normalizeStoreEmail(email)] = next;
  return next;
}

/** Returns whether a record was removed. */
export function removeUser(doc: StoreDocument, email: string): boolean {
  const key = normalizeStoreEmail(email);
  if (!Object.hasOwn(doc.users, key)) return false;
  delete doc.users[key];
  return true;
}
