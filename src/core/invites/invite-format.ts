/**
 * The rules for `StoreDocument.invites`, applied by store/format.ts on every read and every write (so a
 * corrupt invite is reported like a corrupt user, by position, quoting nothing). Pure. The timestamp rule is
 * passed in: format.ts owns it, and importing it here would make a cycle.
 */
import { INVITE_HASH_RE, INVITE_STATES, type InviteState } from './types.js';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first problem of an `invites` value, or undefined when it is valid. */
export function invitesProblem(value: unknown, isTimestamp: (v: unknown) => boolean): string | undefined {
  if (!isPlainObject(value)) return '"invites" must be an object';
  let n = 0;
  for (const [hash, record] of Object.entries(value)) {
    const problem = inviteProblem(++n, hash, record, isTimestamp);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The problem of invite number `n` (its key `hash`), or undefined when it is valid. */
export function inviteProblem(
  n: number,
  hash: string,
  record: unknown,
  isTimestamp: (v: unknown) => boolean,
): string | undefined {
  // Never quoted: a key could be anything pasted there (the token itself, by mistake).
  if (!INVITE_HASH_RE.test(hash)) return `invite key number ${n} is not a SHA-256 hex hash`;
  const where = `invite number ${n}`;
  if (!isPlainObject(record)) return `${where} must be an object`;
  if (typeof record.email !== 'string' || !record.email.includes('@')) return `${where}.email must be an email`;
  for (const field of ['created_at', 'expires_at'] as const)
    if (!isTimestamp(record[field])) return `${where}.${field} must be an ISO-8601 timestamp`;
  for (const field of ['used_at', 'revoked_at'] as const)
    if (record[field] !== undefined && !isTimestamp(record[field]))
      return `${where}.${field} must be an ISO-8601 timestamp`;
  if (!INVITE_STATES.includes(record.state as InviteState))
    return `${where}.state must be one of ${INVITE_STATES.join(', ')}`;
  return undefined;
}
