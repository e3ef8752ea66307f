/**
 * Which user a command acts on: --email, else BOX_QC_EMAIL (config().defaultEmail), else the only connected
 * user. Anything else is ambiguous: exit 2 listing the choices (issue 6 "Commands"). Emails are normalised
 * (trimmed, lower-cased) as the store keys are.
 */
import type { CommandContext } from '../../cli.js';
import { normalizeEmail } from '../../config.js';
import { ReconnectRequiredError, UsageError } from '../../errors.js';

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
  throw new UsageError(`several users are connected: pass --email (or set BOX_QC_EMAIL) to choose one of: ${shown.join(', ')}${more}`, {
    code: 'E_EMAIL_AMBIGUOUS',
    details: { choices: shown },
  });
}

/** An email that resolveEmail returned but the store does not hold: exit 4 (issue 6: "Unknown email: exit 4"). */
export function notConnected(email: string): ReconnectRequiredError {
  return new ReconnectRequiredError(email, `${email} is not connected`, { code: 'E_NOT_CONNECTED' });
}
