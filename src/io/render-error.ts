/**
 * The one renderer for failures. Known errors print their message and hint, no stack; unknown errors print
 * their message and "rerun with --debug"; stacks appear only under --debug. Under --json a failure is one
 * JSON document on stdout: {"ok":false,"error":{code,message,...}}.
 */
import { BoxQcError, ExitCode } from '../errors.js';
import type { Output } from './output.js';
import { terminalSafe } from './terminal-safe.js';

export interface RenderedError {
  exitCode: number;
}

export function errorToJson(err: unknown): { ok: false; error: Record<string, unknown> } {
  if (err instanceof BoxQcError) {
    const error: Record<string, unknown> = { code: err.code, message: err.message, exitCode: err.exitCode };
    if (err.hint) error.hint = err.hint;
    if (err.details) {
      for (const [k, v] of Object.entries(err.details)) if (v !== undefined) error[k] = v;
    }
    return { ok: false, error };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: 'E_INTERNAL', message, exitCode: ExitCode.FAILED } };
}

export function renderError(err: unknown, out: Output): RenderedError {
  const exitCode = err instanceof BoxQcError ? err.exitCode : ExitCode.FAILED;
  if (out.isJson) {
    out.json(errorToJson(err));
  } else if (err instanceof BoxQcError) {
    out.info(`${out.paint.red('error:')} ${terminalSafe(err.message)}`);
    if (err.hint) out.info(`${out.paint.dim('hint:')} ${terminalSafe(err.hint)}`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    out.info(`${out.paint.red('error:')} ${terminalSafe(message)}`);
    if (!out.debugEnabled) out.info(out.paint.dim('rerun with --debug for details'));
  }
  if (out.debugEnabled && err instanceof Error && err.stack) {
    out.debug(err.stack);
    let cause = err.cause;
    while (cause instanceof Error) {
      out.debug(`caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
  }
  return { exitCode };
}
