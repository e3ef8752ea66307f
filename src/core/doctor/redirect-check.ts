/**
 * The loopback redirect URI `connect` listens on: well-formed (config.ts parseRedirectUri already refused a bad
 * one; the command passes that error in) and its port free right now, else `connect` fails at the worst moment,
 * with the user at the consent page.
 */
import { createServer } from 'node:net';
import { fail, ok, warn, type DoctorCheck } from './types.js';

const NAME = 'redirect_uri';

export type RedirectInput = { uri: URL } | { error: string; hint?: string };

export async function checkRedirectUri(input: RedirectInput): Promise<DoctorCheck> {
  if ('error' in input) {
    return fail(NAME, input.error, input.hint ?? 'set BOX_REDIRECT_URI to http://127.0.0.1:<port>/callback');
  }
  const { uri } = input;
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  const port = uri.port === '' ? 80 : Number(uri.port);
  const where = `${uri.origin}${uri.pathname}`;
  const free = await portFree(host === 'localhost' ? '127.0.0.1' : host, port);
  if (free === true) return ok(NAME, `${where} (port ${port} is free)`);
  if (free === 'EADDRINUSE') {
    return fail(
      NAME,
      `${where}: port ${port} is in use by another program`,
      `stop that program (ss -ltnp 'sport = :${port}'), or pick a free port in BOX_REDIRECT_URI and add it to the Box app's redirect URIs`,
    );
  }
  return warn(NAME, `${where}: could not test port ${port} (${free})`, 'check that this host may listen on loopback');
}

function portFree(host: string, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
