/**
 * Configuration, read once into a typed object from the environment (after an optional --env-file, which
 * never overrides variables already set). Knows nothing of commander or the terminal.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';

export const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:53117/callback';
export const DEFAULT_API_BASE_URL = 'https://api.box.com';
export const DEFAULT_AUTHORIZE_URL = 'https://account.box.com/api/oauth2/authorize';

export type Env = Record<string, string | undefined>;

export interface Config {
  clientId: string | undefined;
  clientSecret: string | undefined;
  redirectUri: URL;
  apiBaseUrl: URL;
  authorizeUrl: URL;
  /** A file path, or (the PostgreSQL store) a postgres:// URL. */
  storePath: string;
  /** Where storePath came from, for `status`. */
  storeSource: 'flag' | 'env' | 'default';
  defaultEmail: string | undefined;
  /** BOX_QC_PUBLIC_URL (issue 17): where `box-qc serve` is reached; links and its callback hang off it. */
  publicUrl?: URL | undefined;
}

export interface ConfigInput {
  env: Env;
  /** --store */
  store?: string | undefined;
  /** How messages name `store`: `--store` (the CLI, the default) or the library's `the store path`. */
  storeName?: string;
  homeDir?: string;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * 127.0.0.0/8, ::1 and exactly `localhost`: the only hosts where plain http is acceptable (RFC 8252 §8.3).
 * Not `*.localhost`: such a name is looked up through the resolver, and whatever it answers would receive
 * the client secret and the tokens in clear (issue 15 item 8). Not `localhost.` either (an absolute name,
 * also resolved). The transport connects `localhost` to loopback without DNS. WHATWG URL parsing has
 * already normalised the host (`127.1` -> `127.0.0.1`, `[0:0::1]` -> `[::1]`, lower case).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (IPV4_RE.test(host)) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/**
 * Dotted-decimal IPv4 as node:net's isIPv4 accepts it (no leading zeros, each part 0-255). Not node:net itself:
 * loading it cost every command ~4 ms of start-up, for one check of the configured URLs (issue 20).
 */
const IPV4_PART = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const IPV4_RE = new RegExp(`^${IPV4_PART}(?:\\.${IPV4_PART}){3}$`);

function nonEmpty(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * A user name or password in a Box URL would be shown by `status` and sent nowhere useful: Box takes no
 * basic auth. Refused, and the message names the variable but never repeats the value (issue 15 item 10).
 */
function refuseUserinfo(name: string, url: URL, code: string): void {
  if (url.username === '' && url.password === '') return;
  throw new ConfigError(`${name} must not contain a user name or password (remove the "user:password@" part)`, {
    code,
  });
}

export function parseHttpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`, {
      code: 'E_CONFIG_URL',
      hint: `set ${name} to an https:// URL`,
    });
  }
  refuseUserinfo(name, url, 'E_CONFIG_URL');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(
    `${name} must use https:// (plain http is allowed only for 127.0.0.0/8, [::1] and the exact name localhost)`,
    {
      code: 'E_CONFIG_URL',
    },
  );
}

/** The loopback redirect URI: http on 127.0.0.1, [::1] or localhost only (RFC 8252 §7.3). */
export function parseRedirectUri(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('BOX_REDIRECT_URI is not a valid URL', { code: 'E_CONFIG_REDIRECT_URI' });
  }
  refuseUserinfo('BOX_REDIRECT_URI', url, 'E_CONFIG_REDIRECT_URI');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
  if (url.protocol !== 'http:' || !loopback) {
    throw new ConfigError(
      'BOX_REDIRECT_URI must be a loopback address: http://127.0.0.1:<port>/<path>, http://[::1]:<port>/<path> or http://localhost:<port>/<path>',
      { code: 'E_CONFIG_REDIRECT_URI' },
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigError('BOX_REDIRECT_URI must not carry a query or fragment', { code: 'E_CONFIG_REDIRECT_URI' });
  }
  return url;
}

/**
 * BOX_QC_PUBLIC_URL: https://, or http:// on a loopback host only (a reverse proxy on the same host, tests),
 * as every other URL here. No query or fragment: links and the callback are appended to its path. A trailing
 * slash is dropped (core/invites/links.ts joins the paths), so `.../box-qc/` and `.../box-qc` are one setting.
 */
export function parsePublicUrl(raw: string): URL {
  const url = parseHttpUrl('BOX_QC_PUBLIC_URL', raw);
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    throw new ConfigError('BOX_QC_PUBLIC_URL must not carry a query or fragment', {
      code: 'E_CONFIG_URL',
      hint: 'set BOX_QC_PUBLIC_URL to the base address of box-qc serve, e.g. https://qc.example.com/box-qc',
    });
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** For `invite` (and `serve`): the public URL, or exit 2 naming BOX_QC_PUBLIC_URL. */
export function requirePublicUrl(config: Config): URL {
  if (config.publicUrl) return config.publicUrl;
  throw new ConfigError('BOX_QC_PUBLIC_URL is not set', {
    code: 'E_CONFIG_PUBLIC_URL',
    hint: 'set BOX_QC_PUBLIC_URL to the public address of box-qc serve, e.g. https://qc.example.com/box-qc (README: "Connect links")',
  });
}

/** Emails are the QC tool's identity: trimmed and lower-cased. */
export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  // A plain shape check: enough to catch a missing value or a pasted flag, not an RFC 5322 validator.
  if (!/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u.test(email) || email.length > 254) {
    throw new ConfigError(`not a valid email address: ${JSON.stringify(raw.slice(0, 80))}`, { code: 'E_BAD_EMAIL' });
  }
  return email;
}

export function defaultStorePath(env: Env, home: string): string {
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  return join(xdg ?? join(home, '.config'), 'box-qc', 'tokens.json');
}

/**
 * An empty `--store` or `BOX_QC_STORE` is a mistake (`--store "$UNSET"`), never a request for the default
 * store: `disconnect --all` would revoke every user of it (issue 15 item 11). An empty BOX_QC_STORE matters
 * only when it is the setting in use, i.e. without --store.
 */
export function resolveStore(
  flag: string | undefined,
  env: Env,
  home: string,
  flagName = '--store',
): { path: string; source: Config['storeSource'] } {
  if (flag !== undefined) {
    if (flag.trim() === '') throw emptyStore(flagName);
    return { path: flag.trim(), source: 'flag' };
  }
  if (env.BOX_QC_STORE !== undefined) {
    if (env.BOX_QC_STORE.trim() === '') throw emptyStore('BOX_QC_STORE');
    return { path: env.BOX_QC_STORE.trim(), source: 'env' };
  }
  return { path: defaultStorePath(env, home), source: 'default' };
}

function emptyStore(name: string): ConfigError {
  return new ConfigError(`${name} is empty: name a token file or a postgres:// URL`, {
    code: 'E_CONFIG_STORE',
    hint: `an empty ${name} never means the default store; ${name === 'BOX_QC_STORE' ? 'unset BOX_QC_STORE' : `leave ${name} out`} to use the default`,
  });
}

export function loadConfig(input: ConfigInput): Config {
  const env = input.env;
  const { path: storePath, source: storeSource } = resolveStore(
    input.store,
    env,
    input.homeDir ?? homedir(),
    input.storeName,
  );
  const rawEmail = nonEmpty(env.BOX_QC_EMAIL);
  const publicUrl = nonEmpty(env.BOX_QC_PUBLIC_URL);
  return {
    clientId: nonEmpty(env.BOX_CLIENT_ID),
    clientSecret: nonEmpty(env.BOX_CLIENT_SECRET),
    redirectUri: parseRedirectUri(nonEmpty(env.BOX_REDIRECT_URI) ?? DEFAULT_REDIRECT_URI),
    apiBaseUrl: parseHttpUrl('BOX_API_BASE_URL', nonEmpty(env.BOX_API_BASE_URL) ?? DEFAULT_API_BASE_URL),
    authorizeUrl: parseHttpUrl('BOX_AUTHORIZE_URL', nonEmpty(env.BOX_AUTHORIZE_URL) ?? DEFAULT_AUTHORIZE_URL),
    storePath,
    storeSource,
    defaultEmail: rawEmail === undefined ? undefined : normalizeEmail(rawEmail),
    publicUrl: publicUrl === undefined ? undefined : parsePublicUrl(publicUrl),
  };
}

/** For every command that talks to Box's OAuth endpoints. Names the missing variable(s). */
export function requireClientCredentials(config: Config): ClientCredentials {
  const missing = [
    config.clientId ? undefined : 'BOX_CLIENT_ID',
    config.clientSecret ? undefined : 'BOX_CLIENT_SECRET',
  ].filter((v): v is string => v !== undefined);
  if (missing.length > 0) {
    throw new ConfigError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`, {
      code: 'E_CONFIG_MISSING_CREDENTIALS',
      hint: 'set them in the environment or in a file passed with --env-file (see README: "Register a Box app")',
      details: { missing },
    });
  }
  return { clientId: config.clientId!, clientSecret: config.clientSecret! };
}

/** Joins a path onto a base URL that may itself carry a path prefix (an emulator mounted under /box). */
export function apiUrl(base: URL, path: string): URL {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  const url = new URL(base.href);
  url.pathname = `${prefix}${path}`;
  url.search = '';
  return url;
}
