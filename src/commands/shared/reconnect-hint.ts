/**
 * Issue 17: with BOX_QC_PUBLIC_URL set, a dead connection is best fixed by sending the user a link
 * (`box-qc invite`), not by `box-qc connect` at this host's terminal. Core errors do not know the
 * configuration, so the hint of a ReconnectRequiredError is adjusted here, on its way to the renderer, and
 * only when it is still the default one (a more specific hint is kept).
 */
import type { CommandContext } from '../context.js';
import { OperationError, ReconnectRequiredError } from '../../errors.js';
import { reconnectCommand } from '../../core/reconnect-command.js';

function publicUrlConfigured(ctx: CommandContext): boolean {
  try {
    return ctx.config().publicUrl !== undefined;
  } catch {
    // A configuration that does not load is reported by the error itself, not here.
    return false;
  }
}

export function withReconnectHint(err: unknown, ctx: CommandContext): unknown {
  if (!(err instanceof ReconnectRequiredError) || err.hint !== `run: ${reconnectCommand(err.email, false)}`) return err;
  if (!publicUrlConfigured(ctx)) return err;
  return new ReconnectRequiredError(err.email, err.message, {
    code: err.code,
    hint: `run: ${reconnectCommand(err.email, true)}`,
    cause: err.cause,
    ...(err.details ? { details: err.details } : {}),
  });
}

/** The browser step of `connect` did not finish (timeout, denied, code too late): point at the link instead. */
export function withInviteAlternative(err: unknown, ctx: CommandContext, email: string): unknown {
  if (!(err instanceof OperationError) || err.constructor !== OperationError) return err;
  if (!publicUrlConfigured(ctx)) return err;
  const alt = `or let ${email} connect from their own browser: ${reconnectCommand(email, true)}`;
  return new OperationError(err.code, err.message, {
    hint: err.hint ? `${err.hint}; ${alt}` : alt,
    cause: err.cause,
    ...(err.details ? { details: err.details } : {}),
  });
}
