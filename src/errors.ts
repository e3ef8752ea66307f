/**
 * The one error hierarchy of box-qc. Every error a user can meet is a BoxQcError with a stable string
 * `code` (jose style: scripts branch on it), the process `exitCode` it maps to, and an optional one-line
 * `hint`. Messages are one line and never contain a token, a code, a state or the client secret.
 */

/** Documented exit codes (README, STYLE.md). */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  RECONNECT: 4,
  TEMPFAIL: 75,
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface BoxQcErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable facts for `--json` output (never secrets). */
  details?: Record<string, unknown>;
}

export class BoxQcError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, exitCode: number, options: BoxQcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** Bad flags, arguments or flag combinations. Exit 2. */
export class UsageError extends BoxQcError {
  constructor(message: string, options: BoxQcErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'E_USAGE', message, ExitCode.USAGE, options);
  }
}

/** Missing or invalid configuration (environment, env file, redirect URI). Exit 2. */
export class ConfigError extends BoxQcError {
  constructor(message: string, options: BoxQcErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'E_CONFIG', message, ExitCode.USAGE, options);
  }
}

/** The token store cannot be read or trusted (corrupt, wrong owner, not a file). Exit 2. Never written. */
export class StoreError extends BoxQcError {
  readonly path: string;
  constructor(code: string, path: string, message: string, options: BoxQcErrorOptions = {}) {
    super(code, message, ExitCode.USAGE, { ...options, details: { path, ...options.details } });
    this.path = path;
  }
}

/** The store could not be written (disk full, I/O error). Exit 1: the operation failed, old store intact. */
export class StoreWriteError extends BoxQcError {
  readonly path: string;
  constructor(code: string, path: string, message: string, options: BoxQcErrorOptions = {}) {
    super(code, message, ExitCode.FAILED, { ...options, details: { path, ...options.details } });
    this.path = path;
  }
}

/** A lock stayed busy past the bounded wait. Exit 75: nothing was lost, try again later. */
export class StoreBusyError extends BoxQcError {
  constructor(message: string, options: BoxQcErrorOptions = {}) {
    super('E_STORE_BUSY', message, ExitCode.TEMPFAIL, options);
  }
}

/** No usable connection for this email: never connected, or Box rejected the refresh token. Exit 4. */
export class ReconnectRequiredError extends BoxQcError {
  readonly email: string;
  constructor(email: string, message: string, options: BoxQcErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'E_RECONNECT_REQUIRED', message, ExitCode.RECONNECT, {
      hint: `run: box-qc connect --email ${email}`,
      ...options,
      details: { email, ...options.details },
    });
    this.email = email;
  }
}

/** Box or the network failed in a way that may pass: network error, 5xx, 429 after retries. Exit 75. */
export class TemporaryError extends BoxQcError {
  constructor(message: string, options: BoxQcErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'E_TEMPORARY', message, ExitCode.TEMPFAIL, {
      hint: 'nothing was lost; try again later',
      ...options,
    });
  }
}

/**
 * Box answered with an error we do not retry (404, 403, a malformed body). `status` and Box's request id
 * help support; the body is never included. Exit 1.
 */
export class BoxApiError extends BoxQcError {
  readonly status: number;
  readonly requestId: string | undefined;
  readonly boxCode: string | undefined;
  constructor(
    message: string,
    info: { status: number; requestId?: string | undefined; boxCode?: string | undefined },
    options: BoxQcErrorOptions & { code?: string; exitCode?: number } = {},
  ) {
    super(options.code ?? 'E_BOX_API', message, options.exitCode ?? ExitCode.FAILED, {
      ...options,
      details: { status: info.status, requestId: info.requestId, boxCode: info.boxCode, ...options.details },
    });
    this.status = info.status;
    this.requestId = info.requestId;
    this.boxCode = info.boxCode;
  }
}

/** Any other operation failure the user should see plainly (timeout waiting for the browser, denied). Exit 1. */
export class OperationError extends BoxQcError {
  constructor(code: string, message: string, options: BoxQcErrorOptions = {}) {
    super(code, message, ExitCode.FAILED, options);
  }
}

/** Ctrl-C or another interrupting signal. Exit 130 (or 128+signal where the caller says so). */
export class InterruptedError extends BoxQcError {
  constructor(message = 'interrupted', exitCode: number = ExitCode.INTERRUPTED) {
    super('E_INTERRUPTED', message, exitCode);
  }
}

export function isBoxQcError(err: unknown): err is BoxQcError {
  return err instanceof BoxQcError;
}
