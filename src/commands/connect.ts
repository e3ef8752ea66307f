/**
 * `box-qc connect`: flags, validation and rendering. The flow lives in core/connect/connect.ts, loaded lazily so that
 * other commands (and `status`'s start-up time) never pay for jose, undici or the listener.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { requireClientCredentials } from '../config.js';
import { UsageError } from '../errors.js';
import { terminalSafe } from '../io/terminal-safe.js';
import type { ConnectResult, ConnectRequest, ConnectUi } from '../core/connect/connect.js';
import type { FinishPorts } from '../core/connect/finish.js';
import { stateKeyDirFor } from '../core/connect/key-dir.js';
import { normalizeNewEmail } from './shared/resolve-email.js';
import { withInviteAlternative } from './shared/reconnect-hint.js';

interface ConnectOptions {
  email?: string;
  port?: number;
  scope?: string;
  browser: boolean;
  timeout: number;
  printUrl?: boolean;
  redirectedUrl?: string;
}

function parsePort(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535)
    throw new InvalidArgumentError('expected a port number 0-65535 (0 = any free port)');
  return n;
}

function parseSeconds(raw: string): number {
  const n = Number(raw);
  // The signed state lives 10 minutes (issue 5 step 2): waiting longer could only end in refused callbacks.
  if (!/^\d+(\.\d+)?$/.test(raw) || n <= 0 || n > 600)
    throw new InvalidArgumentError('expected a number of seconds, at most 600');
  return n;
}

export function registerConnect(program: Command, action: ActionFactory): void {
  program
    .command('connect')
    .description("connect a QC user's Box account (OAuth 2.0 in the browser, loopback callback)")
    .option('--email <email>', 'the QC user to connect (default: $BOX_QC_EMAIL)')
    .option('--port <port>', 'callback port, overriding BOX_REDIRECT_URI (0 = any free port)', parsePort)
    .option('--scope <scopes>', 'space-separated Box scopes (default: the scopes configured on the app)')
    .option('--no-browser', 'do not open a browser: print the URL, and accept the redirected URL pasted on stdin')
    .option(
      '--timeout <seconds>',
      'how long to wait for the browser (at most 600: the state lives 10 minutes)',
      parseSeconds,
      300,
    )
    .option('--print-url', 'headless step 1: print the authorize URL on stdout and exit')
    .option('--redirected-url <url>', 'headless step 2: finish with the address the browser was redirected to')
    .addHelpText(
      'after',
      `
Examples:
  $ box-qc connect --email alice@example.com
  $ box-qc connect --email alice@example.com --no-browser        # over SSH: open the URL elsewhere, paste the result
  $ box-qc connect --email alice@example.com --print-url         # two-step headless flow, step 1
  $ box-qc connect --email alice@example.com --redirected-url 'http://127.0.0.1:53117/callback?code=...&state=...'

The printed URL carries only a signed, expiring state (no secret). Box codes live 30 seconds: finish promptly.`,
    )
    .action(action<ConnectOptions>(runConnect));
}

async function runConnect(ctx: CommandContext, opts: ConnectOptions): Promise<void> {
  if (opts.printUrl && opts.redirectedUrl !== undefined) {
    throw new UsageError('--print-url and --redirected-url are the two separate steps: use one of them');
  }
  const rawEmail = opts.email ?? ctx.config().defaultEmail;
  if (rawEmail === undefined)
    throw new UsageError('connect needs --email <email> (or BOX_QC_EMAIL)', { code: 'E_NO_EMAIL' });
  const email = normalizeNewEmail(rawEmail);
  const config = ctx.config();
  const credentials = requireClientCredentials(config);
  const req: ConnectRequest = {
    email,
    clientId: credentials.clientId,
    authorizeUrl: config.authorizeUrl,
    redirectUri: config.redirectUri,
    port: opts.port,
    scope: opts.scope,
    stateKeyDir: stateKeyDirFor(config, ctx.deps),
  };
  const core = await import('../core/connect/connect.js');
  const { openStoreForCommand } = await import('./shared/open-store.js');
  const store = openStoreForCommand(ctx);
  // A corrupt or unwritable store stops every flow before anything reaches Box or the browser (issue 3):
  // a grant whose tokens could not be saved would be a live, orphaned grant.
  await store.read();
  await store.ensureWritable();
  if (opts.printUrl) {
    await store.close();
    const { url, expiresAt } = await core.printAuthorizeUrl(req, ctx.deps.now());
    if (ctx.out.isJson)
      ctx.out.json({ ok: true, email, authorize_url: url, state_expires_at: new Date(expiresAt).toISOString() });
    else await ctx.out.data(`${url}\n`);
    ctx.out.info(
      `Open the URL above in any browser and grant access. The browser then fails to load ${config.redirectUri.hostname}: copy that address and, within 30 seconds, run:`,
    );
    ctx.out.info(`  box-qc connect --email ${terminalSafe(email)} --redirected-url '<the address>'`);
    return;
  }
  const { httpForCommand } = await import('./shared/http.js');
  let http: ReturnType<typeof httpForCommand> | undefined;
  const ports: FinishPorts = {
    store,
    http: () => (http ??= httpForCommand(ctx)),
    apiBaseUrl: config.apiBaseUrl,
    credentials,
    now: () => ctx.deps.now(),
    critical: (fn) => ctx.deps.interrupts.critical(fn),
    signal: ctx.deps.interrupts.signal,
  };
  try {
    const result =
      opts.redirectedUrl !== undefined
        ? await core.connectFromRedirectedUrl(req, ports, opts.redirectedUrl)
        : await core.connectInteractive(req, { ...ports, ...interactivePorts(ctx, opts) });
    renderResult(ctx, result);
  } catch (err) {
    throw withInviteAlternative(err, ctx, email);
  } finally {
    const { closeHttpContext } = await import('../core/http/request.js');
    await Promise.allSettled([store.close(), http?.then(closeHttpContext)]);
  }
}

function interactivePorts(ctx: CommandContext, opts: ConnectOptions) {
  const { deps, out } = ctx;
  // Open a browser only for a person at a graphical terminal (issue 5 step 3).
  const canOpen = opts.browser && deps.hasDisplay() && deps.stdin.isTTY === true && deps.stderr.isTTY === true;
  const ui: ConnectUi = {
    showUrl(url) {
      out.info(
        canOpen
          ? 'Opening your browser. If it does not open, visit this URL:'
          : 'Open this URL in a browser to connect:',
      );
      out.info(url);
    },
    openBrowser: canOpen ? (url) => deps.openBrowser(url) : undefined,
    browserFailed: () => out.warn('could not open a browser: open the URL above yourself'),
    async waiting(paste) {
      if (paste) {
        // No spinner here: it would redraw over the address the person is typing or pasting.
        out.info(
          'Waiting for the browser. On another machine? Paste the full address it was redirected to here, then press Enter.',
        );
        return () => {};
      }
      const spinner = await out.spinner('Waiting for the browser (Ctrl-C to cancel)…');
      return () => spinner.stop();
    },
    pasteRefused: () =>
      out.warn('that is not a valid box-qc callback address for this connect; paste the full address from the browser'),
    debug: (line) => out.debug(line),
  };
  return {
    ui,
    interrupt: deps.interrupts.signal,
    timeoutMs: opts.timeout * 1000,
    paste: canOpen ? undefined : deps.stdin,
  };
}

function renderResult(ctx: CommandContext, r: ConnectResult): void {
  const login = terminalSafe(r.box.login);
  const name = terminalSafe(r.box.name);
  if (r.previousBox) {
    const before = terminalSafe(r.previousBox.login ?? r.previousBox.id ?? 'unknown');
    ctx.out.warn(
      `${terminalSafe(r.email)} was connected to a different Box user before (${before}, id ${terminalSafe(r.previousBox.id ?? '?')}); it now uses ${login} (id ${terminalSafe(r.box.id)})`,
    );
  }
  if (ctx.out.isJson) {
    ctx.out.json({
      ok: true,
      email: r.email,
      box_user: { id: r.box.id, login: r.box.login, name: r.box.name },
      reconnected: r.reconnected,
      previous_box_user: r.previousBox ?? null,
      access_token_expires_at: r.accessTokenExpiresAt,
    });
  }
  ctx.out.success(`Connected ${terminalSafe(r.email)} to Box as ${login} (${name})`);
}
