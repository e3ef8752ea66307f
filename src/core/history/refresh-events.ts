/**
 * What a refresh that reached Box leaves in the audit log (issue 18). Only refreshes that sent a POST are
 * recorded: refreshed, dead (Box refused the refresh token), temporary (5xx, 429, network) or failed (the new
 * pair could not be saved, an answer we could not use). A skip (tokens still fresh) and a user already
 * marked needs_reconnect are NOT recorded: `refresh --all` from cron every 10 minutes would otherwise write a
 * line per user per run and bury the events that matter (README "Monitoring").
 */
import { BoxQcError, ReconnectRequiredError, TemporaryError } from '../../errors.js';
import type { HistoryInput } from './types.js';

export function refreshedEntry(email: string, answer: { requestId?: string } | undefined): HistoryInput {
  return {
    event: 'refresh',
    email,
    outcome: 'refreshed',
    ...(answer?.requestId !== undefined ? { box_request_id: answer.requestId } : {}),
  };
}

export function refreshFailedEntry(email: string, err: unknown): HistoryInput {
  const outcome =
    err instanceof ReconnectRequiredError ? 'dead' : err instanceof TemporaryError ? 'temporary' : 'failed';
  const requestId = requestIdIn(err);
  return {
    event: 'refresh',
    email,
    outcome,
    detail: detailOf(err),
    ...(requestId !== undefined ? { box_request_id: requestId } : {}),
  };
}

/** Our own words only: the error code, Box's reason class and the HTTP status, never a message from the wire. */
function detailOf(err: unknown): string {
  if (!(err instanceof BoxQcError)) return 'E_INTERNAL';
  const parts = [err.code];
  const reason = err.details?.reason;
  if (typeof reason === 'string') parts.push(reason);
  const status = err.details?.status;
  if (typeof status === 'number') parts.push(`HTTP ${status}`);
  return parts.join(' ');
}

/** Box's request id on the error or its cause (InvalidGrantError under ReconnectRequiredError). */
function requestIdIn(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof BoxQcError && depth < 3; e = e.cause, depth++) {
    const id = e.details?.requestId;
    if (typeof id === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(id)) return id;
  }
  return undefined;
}
