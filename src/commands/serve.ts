/**
 * `box-qc serve`: the HTTP edge for connect links (issue 17). Flags, validation and the process lifecycle
 * here; the listener, routes and limits in server/; the flow in core/invites/flow.ts. Runs until SIGTERM or
 * SIGINT, then stops accepting, lets callbacks in flight finish their exchange and save (at most 75 s), and
 * exits 0. Each callback runs inside a critical section, so a signal never cuts one short.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { requireClientCredentials, requirePublicUrl } from '../config.js';
import { UsageError } from '../errors.js';
import {
  DEFAULT_LISTEN,
  formatListen,
  isLoopbackListen,
  localhostWarning,
  parseListen,
} from '../server/listen-address.js';
import type { ListenAddress } from '../server/types.js';
import { NOTIFY_COMMAND_HELP } from './shared/notify-help.js';

interface ServeOptions {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  metricsToken?: string;
  notifyCommand?: string;
}

/**
 * How long a stop waits for requests in flight: one callback may take the code exchange (30 s HTTP bound),
 * then users/me (30 s), then the save; a grant Box already issued must not be dropped by the drain (review
 * finding 6). The systemd unit's TimeoutStopSec (README) is longer.
 */
const DRAIN_MS = 75_000;

export function registerServe(program: Command, action: ActionFactory): void {
  program
    .command('serve')
    .description('serve connect links: GET /connect/<token>, /callback, /healthz (until SIGTERM or SIGINT)')
    .option(
      '--listen <host:port>',
      `address to listen on: an IP and port, or localhost:<port> (default: $BOX_QC_LISTEN or ${DEFAULT_LISTEN})`,
    )
    .option('--tls-cert <pem>', 'serve HTTPS with this certificate chain (required for a non-loopback --listen)')
    .option('--tls-key <pem>', 'the private key for --tls-cert')
    .option('--metrics-token <token>', 'require "Authorization: Bearer <token>" on /metrics ($BOX_QC_METRICS_TOKEN)')
    .option('--notify-command <cmd>', NOTIFY_COMMAND_HELP)
    .addHelpText(
      'after',
      `
Needs BOX_QC_PUBLIC_URL (the address people reach, e.g. https://qc.example.com/box-qc), whose /callback is
registered on the Box app as a second redirect URI, and the Box client id and secret.

Examples:
  $ BOX_QC_PUBLIC_URL=https://qc.example.com/box-qc box-qc serve          # behind a TLS reverse proxy
  $ box-qc serve --listen '[::1]:8080'
  $ box-qc serve --listen 0.0.0.0:8443 --tls-cert /etc/box-qc/cert.pem --tls-key /etc/box-qc/key.pem
  $ box-qc invite --email alice@example.com                               # then send alice the printed link

Routes: GET /connect/<token> (302 to Box, or 410), GET /callback (200 connected, 403 denied, 400 bad or
replayed state, 502 Box failed), GET /healthz (200 ok, 503 store unreadable), GET /metrics (listen address
only). One access-log line per request on stderr: method, route, status, milliseconds. --json: where it
listens, as one JSON document on stdout.
Exit: 0 after SIGTERM/SIGINT, 1 the address cannot be bound, 2 configuration.`,
    )
    .action(action<ServeOptions>(runServe));
}

function listenAddress(ctx: CommandContext, opts: ServeOptions): ListenAddress {
  const fromFlag = opts.listen !== undefined;
  const raw = (opts.listen ?? ctx.deps.env.BOX_QC_LISTEN ?? DEFAULT_LISTEN).trim();
  const addr = parseListen(raw);
  if (addr) return addr;
  throw new UsageError(
    `${fromFlag ? '--listen' : 'BOX_QC_LISTEN'} must be <ip>:<port> or localhost:<port>, e.g. 127.0.0.1:8080 or [::1]:8080`,
    { code: 'E_BAD_LISTEN' },
  );
}

async function runServe(ctx: CommandContext, opts: ServeOptions): Promise<void> {
  const listen = listenAddress(ctx, opts);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together: give both', { code: 'E_TLS_FLAGS' });
  if (!isLoopbackListen(listen) && opts.tlsCert === undefined)
    throw new UsageError(
      `plain HTTP is only for a loopback --listen (behind a TLS reverse proxy); ${formatListen(listen)} needs --tls-cert <pem> --tls-key <pem>`,
      { code: 'E_TLS_REQUIRED' },
    );
  const metricsToken = opts.metricsToken ?? ctx.deps.env.BOX_QC_METRICS_TOKEN;
  if (metricsToken !== undefined && metricsToken.trim() === '')
    throw new UsageError('the metrics token is empty (--metrics-token or BOX_QC_METRICS_TOKEN)', {
      code: 'E_BAD_METRICS_TOKEN',
    });
  const config = ctx.config();
  const publicUrl = requirePublicUrl(config);
  const credentials = requireClientCredentials(config);
  const localhost = localhostWarning(publicUrl, listen);
  if (localhost !== undefined) ctx.out.warn(localhost);
  // node:tls loads crypto and streams: only for serve, and only with TLS (start-up of every other command).
  const tls =
    opts.tlsCert !== undefined && opts.tlsKey !== undefined
      ? (await import('./shared/serve-tls.js')).readTlsFiles(opts.tlsCert, opts.tlsKey)
      : undefined;
  // A reconnect through a link announces connection.recovered (issue 18); configured wrongly: exit 2 here.
  const { notifierFor } = await import('./shared/notify.js');
  const notifier = notifierFor(ctx, opts.notifyCommand);

  const { openStoreForCommand } = await import('./shared/open-store.js');
  // Many requests at once: the store's file calls go through the thread pool (fs-layer.ts).
  const store = openStoreForCommand(ctx, { fileCalls: 'thread-pool' });
  // As connect: a store that cannot be read or written stops serve before any link is followed.
  await store.read();
  await store.ensureWritable();
  const { startServe } = await import('./shared/serve-run.js');
  await startServe(ctx, {
    store,
    listen,
    tls,
    publicUrl,
    credentials,
    metricsToken: metricsToken?.trim(),
    drainMs: DRAIN_MS,
    notifier,
  });
}
