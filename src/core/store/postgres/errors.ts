/**
 * The PostgreSQL store's URL handling and error mapping (issue 9): a store URL is shown only with its
 * password replaced, and every failure becomes one BoxQcError line that cannot carry the password (from the
 * URL or PGPASSWORD) or a value from a row. The driver's own error is never attached as `cause`: its message
 * and detail may quote data, and `--debug` prints causes.
 *
 *   unreachable, dropped, server starting/stopping, too many connections  -> TemporaryError, exit 75
 *   authentication failed, database missing, permission denied, bad URL   -> ConfigError, exit 2
 *   lock_timeout                                                          -> StoreBusyError, exit 75
 */
import { BoxQcError, ConfigError, OperationError, StoreBusyError, TemporaryError } from '../../../errors.js';
import { isPostgresUrl } from '../location.js';

/** The URL for messages: password (userinfo or `?password=`) replaced by `***`. Never throws. */
export function redactPostgresUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'postgres://(unparsable URL)';
  }
  if (url.password !== '') url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (/^(password|passfile|sslpassword|sslkey)$/i.test(key)) url.searchParams.set(key, '***');
  }
  return url.href.replace(/%2A%2A%2A/gi, '***');
}

/** Every secret a message must not contain: the URL's password (raw and decoded) and PGPASSWORD. */
export function storeSecrets(raw: string, env: Record<string, string | undefined>): string[] {
  const secrets = new Set<string>();
  try {
    const url = new URL(raw);
    if (url.password) secrets.add(url.password).add(decodeURIComponent(url.password));
    const q = url.searchParams.get('password');
    if (q) secrets.add(q);
  } catch {
    // unparsable: validatePostgresUrl reports it without echoing it
  }
  if (env.PGPASSWORD) secrets.add(env.PGPASSWORD);
  return [...secrets].filter((s) => s.length > 0);
}

/** Where a PostgreSQL store lives, for `status`: never the password. */
export interface PostgresServerInfo {
  host: string;
  port: number;
  database: string;
  user: string | null;
}

/**
 * Host, port, database and user as the driver resolves them (URL first, then `?host=`/`?port=`, then libpq's
 * PGHOST/PGPORT/PGDATABASE/PGUSER, then its defaults). Best effort for display; never throws.
 */
export function describePostgresUrl(
  raw: string,
  env: Record<string, string | undefined>,
): PostgresServerInfo | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const q = (k: string) => url.searchParams.get(k) || undefined;
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const user = (url.username ? decode(url.username) : undefined) ?? q('user') ?? env.PGUSER ?? null;
  const port = Number(url.port || q('port') || env.PGPORT || 5432);
  return {
    host: (url.hostname ? decode(url.hostname) : undefined) ?? q('host') ?? env.PGHOST ?? 'localhost',
    port: Number.isInteger(port) ? port : 5432,
    database: decode(url.pathname.replace(/^\//, '')) || q('dbname') || env.PGDATABASE || user || '?',
    user,
  };
}

export function validatePostgresUrl(raw: string): void {
  try {
    const url = new URL(raw);
    if (!isPostgresUrl(url.href)) throw new Error('scheme');
  } catch {
    throw new ConfigError('the PostgreSQL store URL is not a valid postgres:// URL', {
      code: 'E_CONFIG_STORE',
      hint: 'expected postgres://user[:password]@host[:port]/database (percent-encode special characters)',
    });
  }
}

/** Replaces every secret in `text`: the last line of defence for any string we did not build ourselves. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect (localhost -> ::1 and 127.0.0.1) fails with an AggregateError.
  const inner = (err as { errors?: unknown }).errors;
  return Array.isArray(inner) ? errorCode(inner[0]) : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface PgErrorContext {
  location: string;
  secrets: readonly string[];
}

/** One line for any failure of the driver or the server. */
export function mapPgError(err: unknown, ctx: PgErrorContext): BoxQcError {
  if (err instanceof BoxQcError) return err;
  const code = errorCode(err);
  const msg = errorMessage(err);
  const where = `PostgreSQL store ${ctx.location}`;
  const details = code === undefined ? {} : { details: { sqlstate_or_errno: code } };
  if (
    code === '28P01' ||
    code === '28000' ||
    /SASL|client password must be a string|password authentication/i.test(msg)
  ) {
    return new ConfigError(`${where}: authentication failed`, {
      code: 'E_STORE_AUTH',
      hint: 'check the user and password (in the URL or PGPASSWORD) and pg_hba.conf',
      ...details,
    });
  }
  if (code === '3D000') {
    return new ConfigError(`${where}: the database does not exist`, {
      code: 'E_STORE_DB_MISSING',
      hint: 'create it (createdb) or fix the URL',
      ...details,
    });
  }
  if (code === '42501') {
    return new ConfigError(`${where}: permission denied`, {
      code: 'E_STORE_PERMISSION',
      hint: 'the user needs CREATE on the schema (first use) and SELECT, INSERT, UPDATE, DELETE on box_qc_tokens',
      ...details,
    });
  }
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return new TemporaryError(`cannot reach the ${where} (${code})`, { code: 'E_STORE_UNREACHABLE', ...details });
  }
  if (
    /timeout expired|connection timeout|Connection terminated|Query read timeout|Client has encountered a connection error/i.test(
      msg,
    )
  ) {
    return new TemporaryError(`lost the connection to the ${where}`, { code: 'E_STORE_UNREACHABLE', ...details });
  }
  // 08 connection exception, 53 insufficient resources, 57P0x shutdown/starting, 40 serialization/deadlock.
  if (code !== undefined && (/^(08|53|40)/.test(code) || /^57P0[1-4]$/.test(code))) {
    return new TemporaryError(`the ${where} is unavailable right now (SQLSTATE ${code})`, {
      code: 'E_STORE_UNAVAILABLE',
      ...details,
    });
  }
  // lock_timeout ran out (a row lock of a scoped commit, say): busy, as the store lock's wait is (exit 75), not
  // a database error (review of issue 20's fan-out, finding 3).
  if (code === '55P03') {
    return new StoreBusyError(`${where} is busy (a lock wait ran out)`, {
      hint: 'another session holds a row or table this command needed; try again later',
      ...details,
    });
  }
  if (code === '25006') {
    return new TemporaryError(`the ${where} is read-only right now (a standby?)`, {
      code: 'E_STORE_READONLY',
      ...details,
    });
  }
  if (/SSL|certificate/i.test(msg)) {
    return new ConfigError(`${where}: TLS negotiation failed`, {
      code: 'E_STORE_TLS',
      hint: 'check sslmode in the URL',
      ...details,
    });
  }
  const brief = scrub(msg.replace(/\s+/g, ' '), ctx.secrets).slice(0, 160);
  return new OperationError('E_STORE_DB', `${where}: database error${code ? ` ${code}` : ''}: ${brief}`, details);
}
