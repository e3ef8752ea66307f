/**
 * What `doctor` checks, read from the environment piece by piece: one bad variable must fail its own check,
 * not stop the whole report the way ctx.config() stops a command (exit 2).
 */
import { homedir } from 'node:os';
import {
  DEFAULT_API_BASE_URL,
  DEFAULT_REDIRECT_URI,
  parseHttpUrl,
  parseRedirectUri,
  resolveStore,
  type ClientCredentials,
  type Env,
} from '../config.js';
import { BoxQcError } from '../errors.js';
import type { RedirectInput } from '../core/doctor/redirect-check.js';
import type { PublicUrlInput } from '../core/doctor/public-url-check.js';

export interface DoctorInputs {
  credentials: ClientCredentials | undefined;
  missing: string[];
  redirect: RedirectInput;
  api: { url: URL } | { error: string };
  store: { location: string } | { error: string; hint?: string };
  publicUrl: PublicUrlInput;
  /** The proxy requests to the API go through, without credentials; undefined when direct. */
  proxy: string | undefined;
}

const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

function attempt<T>(fn: () => T): T | { error: string; hint?: string } {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof BoxQcError)) throw err;
    return err.hint === undefined ? { error: err.message } : { error: err.message, hint: err.hint };
  }
}

export function readDoctorInputs(env: Env, storeFlag: string | undefined, home = homedir()): DoctorInputs {
  const clientId = set(env.BOX_CLIENT_ID);
  const clientSecret = set(env.BOX_CLIENT_SECRET);
  const missing = [clientId ? undefined : 'BOX_CLIENT_ID', clientSecret ? undefined : 'BOX_CLIENT_SECRET'].filter(
    (v): v is string => v !== undefined,
  );
  const api = attempt(() => ({
    url: parseHttpUrl('BOX_API_BASE_URL', set(env.BOX_API_BASE_URL) ?? DEFAULT_API_BASE_URL),
  }));
  const rawPublic = set(env.BOX_QC_PUBLIC_URL);
  return {
    credentials: clientId && clientSecret ? { clientId, clientSecret } : undefined,
    missing,
    redirect: attempt(() => ({ uri: parseRedirectUri(set(env.BOX_REDIRECT_URI) ?? DEFAULT_REDIRECT_URI) })),
    api,
    store: attempt(() => ({ location: resolveStore(storeFlag, env, home).path })),
    publicUrl:
      rawPublic === undefined ? undefined : attempt(() => ({ url: parseHttpUrl('BOX_QC_PUBLIC_URL', rawPublic) })),
    proxy: 'url' in api ? describeProxy(env, api.url) : undefined,
  };
}

/** As undici's EnvHttpProxyAgent picks it (lower case wins), shown as scheme://host:port only: never a password. */
export function describeProxy(env: Env, target: URL): string | undefined {
  const pick = (name: string) => set(env[name.toLowerCase()]) ?? set(env[name]);
  const name = target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const raw = pick(name) ?? (name === 'HTTPS_PROXY' ? pick('HTTP_PROXY') : undefined);
  if (raw === undefined) return undefined;
  const noProxy = (pick('NO_PROXY') ?? '').split(/[\s,]+/).filter(Boolean);
  const host = target.hostname.toLowerCase();
  if (noProxy.some((n) => n === '*' || host === n.replace(/^\./, '') || host.endsWith(`.${n.replace(/^\./, '')}`))) {
    return undefined;
  }
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host} (from ${pick(name) === raw ? name : 'HTTP_PROXY'})`;
  } catch {
    return `an unparsable ${name}`;
  }
}
