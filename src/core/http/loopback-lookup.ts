/**
 * The `lookup` both transports give net.connect (issue 15 item 8). Plain http is allowed only to loopback
 * (config.ts checks the URL): for literal addresses net never calls a lookup, and the name `localhost` is
 * answered here with 127.0.0.1 / ::1 instead of going to the system resolver. Whatever a resolver (or a
 * hostile network's DNS) says about `localhost` must not matter: the connection carries the client secret
 * and tokens in clear. Any other name under `.localhost` (RFC 6761 reserves the whole domain for loopback,
 * but only the exact name is accepted here) is refused without a lookup, so a misconfiguration that got past
 * validation still sends nothing anywhere. Every other name goes to dns.lookup as usual.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * node:dns, imported on the first name that needs the system resolver: loading it costs every command ~1-3 ms
 * (the HTTP client is set up before anything is sent), and a run against loopback addresses, as with a
 * PostgreSQL `token` (issue 20's lock storm), never resolves a name.
 */
let dns: Promise<typeof import('node:dns')> | undefined;

const LOOPBACK: readonly LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

function familyOf(options: LookupOptions | number | undefined): number {
  const f = typeof options === 'number' ? options : options?.family;
  if (f === 'IPv4' || f === 4) return 4;
  if (f === 'IPv6' || f === 6) return 6;
  return 0;
}

/** The address argument of a failed lookup: an empty list when the caller asked for all of them. */
function noAddress(options: LookupOptions | number): string | LookupAddress[] {
  return typeof options === 'object' && options.all ? [] : '';
}

/**
 * Same signature as dns.lookup (net.connect's `lookup` option); the answer is always asynchronous (a microtask:
 * core/ does not touch `process`, and net only needs the callback not to run inside the call).
 */
export function loopbackLookup(
  hostname: string,
  options: LookupOptions | number | LookupCallback,
  callback?: LookupCallback,
): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts = typeof options === 'function' ? {} : options;
  const name = hostname.toLowerCase();
  if (name === 'localhost') {
    const family = familyOf(opts);
    const all = LOOPBACK.filter((a) => family === 0 || a.family === family).map((a) => ({ ...a }));
    queueMicrotask(() => {
      if (typeof opts === 'object' && opts.all) cb(null, all);
      else cb(null, all[0]!.address, all[0]!.family);
    });
    return;
  }
  if (name.endsWith('.localhost') || name.endsWith('.localhost.') || name === 'localhost.') {
    const err: NodeJS.ErrnoException = Object.assign(
      new Error(`${hostname}: not looked up (only the exact name localhost is, and it means loopback)`),
      {
        code: 'ENOTFOUND',
        hostname,
      },
    );
    queueMicrotask(() => cb(err, noAddress(opts)));
    return;
  }
  (dns ??= import('node:dns')).then(
    (m) => {
      // Looked up at call time on the module object (the namespace's default), not on the namespace, whose
      // named exports are bound at import: tests (and diagnostics tools) may wrap dns.lookup.
      const dnsObject = (m as { default?: typeof m }).default ?? m;
      const callAny = dnsObject.lookup as (host: string, o: LookupOptions | number, c: LookupCallback) => void;
      try {
        callAny(hostname, opts, cb);
      } catch (err) {
        // dns.lookup throws on bad options; in a promise callback that would be an unhandled rejection and
        // the caller's callback would never run.
        cb(err as NodeJS.ErrnoException, noAddress(opts));
      }
    },
    (err: unknown) => cb(err as NodeJS.ErrnoException, noAddress(opts)),
  );
}
