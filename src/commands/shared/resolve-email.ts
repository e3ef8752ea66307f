/**
 * Which user a command acts on: --email, else BOX_QC_EMAIL (config().defaultEmail), else the only connected
 * user. Anything else is ambiguous: exit 2 listing the choices (issue 6 "Commands"). Emails are normalised
 * (trimmed, lower-cased) as the store keys are.
 */
import type { CommandContext } from '../context.js';
import { normalizeEmail } from '../../config.js';
import { ReconnectRequiredError, UsageError } from '../../errors.js';
import type { TokenStore } from '../../core/store/types.js';

/** `users`: the emails in the store (already normalised keys). */
export function resolveEmail(ctx: CommandContext, flagEmail: string | undefined, users: readonly string[]): string {
  if (flagEmail !== undefined) return normalizeEmail(flagEmail);
  const fromEnv = ctx.config().defaultEmail;
  if (fromEnv !== undefined) return fromEnv;
  if (users.length === 1) return users[0]!;
  if (users.length === 0) {
    throw new UsageError('no user is connected, so --email is needed', {
      code: 'E_NO_USERS',
      hint: 'run: box-qc connect --email <email>',
    });
  }
  const shown = [...users].sort().slice(0, 20);
  const more = users.length > shown.length ? `, … (${users.length - shown.length} more)` : '';
  throw new UsageError(
    `several users are connected: pass --email (or set BOX_QC_EMAIL) to choose one of: ${shown.join(', ')}${more}`,
    {
      code: 'E_EMAIL_AMBIGUOUS',
      details: { choices: shown },
    },
  );
}

/**
 * resolveEmail for a command on one user: the store's user list is read only when neither --email nor
 * BOX_QC_EMAIL names the user (a PostgreSQL store of 100,000 users is not loaded to check a flag, issue 20).
 */
export async function resolveStoredEmail(
  ctx: CommandContext,
  flagEmail: string | undefined,
  store: TokenStore,
): Promise<string> {
  if (flagEmail !== undefined || ctx.config().defaultEmail !== undefined) return resolveEmail(ctx, flagEmail, []);
  return resolveEmail(ctx, undefined, Object.keys((await store.read()).users));
}

// C0/C1 controls (\p{Cc}) and the format characters (\p{Cf}: bidi overrides and isolates, zero-width marks).
const CONTROL_OR_BIDI = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/**
 * The email a new connection is stored under (connect, later invite). Stricter than normalizeEmail, which
 * also names existing keys: a key with a control or bidi character would print as something it is not
 * (issue 15 item 7), so none is created. Keys that already hold one (the format is shared with another
 * writer) still work everywhere and are shown escaped.
 */
export function normalizeNewEmail(raw: string): string {
  if (CONTROL_OR_BIDI.test(raw)) {
    throw new UsageError('the email contains a control or bidi character: type it plainly', { code: 'E_BAD_EMAIL' });
  }
  return normalizeEmail(raw);
}

/** An email that resolveEmail returned but the store does not hold: exit 4 (issue 6: "Unknown email: exit 4"). */
export function notConnected(email: string): ReconnectRequiredError {
  return new ReconnectRequiredError(email, `${email} is not connected`, { code: 'E_NOT_CONNECTED' });
}
