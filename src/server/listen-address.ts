/**
 * `--listen <host:port>`: an IP literal and a port (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:8443`), or
 * `localhost:<port>`, which is 127.0.0.1 and ::1 without asking a resolver (http-server.ts binds both). No other names: binding a name that
 * resolves elsewhere than intended would expose the edge, and the Host check needs the exact literal (plus
 * `localhost` for that one name). `formatListen` is the `host:port` form the Host header takes for it.
 */
import { isLoopbackHost } from '../config.js';
import { isIP } from 'node:net';
import type { ListenAddress } from './types.js';

export const DEFAULT_LISTEN = '127.0.0.1:8080';

/** undefined when `raw` is not `<ip>:<port>`, `[<ipv6>]:<port>` or `localhost:<port>`. */
export function parseListen(raw: string): ListenAddress | undefined {
  const named = /^localhost:(\d{1,5})$/i.exec(raw);
  if (named) {
    const port = Number(named[1]);
    return port > 65535 ? undefined : { host: '127.0.0.1', port, name: 'localhost' };
  }
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(raw) ?? /^([0-9.]+):(\d{1,5})$/.exec(raw);
  if (!m) return undefined;
  const host = m[1]!.toLowerCase();
  const port = Number(m[2]);
  const family = isIP(host);
  if (family === 0 || port > 65535) return undefined;
  if (family === 6 && !raw.startsWith('[')) return undefined;
  return { host, port };
}

export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** 127.0.0.0/8 and ::1 only: where plain HTTP never leaves the machine (a reverse proxy in front). */
export function isLoopbackListen(a: ListenAddress): boolean {
  return isIP(a.host) !== 0 && isLoopbackHost(a.host);
}

/**
 * A warning for a plain-HTTP public URL at `localhost` on serve's own port while serve listens on one loopback
 * address only: a browser may resolve localhost to the other one ([::1] or 127.0.0.1), where serve is not and any
 * local program listening on the port would be sent the links (review of the localhost listen, finding 3).
 * Undefined otherwise: https or another port is a proxy in front, which answers for the name.
 */
export function localhostWarning(publicUrl: URL, listen: ListenAddress): string | undefined {
  if (publicUrl.protocol !== 'http:' || publicUrl.hostname.toLowerCase() !== 'localhost') return undefined;
  if (listen.name === 'localhost' || !isLoopbackListen(listen)) return undefined;
  if ((publicUrl.port || '80') !== String(listen.port)) return undefined;
  return `the public URL names localhost, which a browser may reach at an address serve does not listen on (it listens on ${formatListen(listen)} only): use --listen localhost:${listen.port}, which listens on 127.0.0.1 and [::1]`;
}
