/**
 * `box-qc refresh`: for cron. Refreshes a user (or --all) whose access token expires within --min-valid or
 * whose refresh token is older than --max-age (keeping everyone far from Box's 60-day cliff), through the one
 * protocol in core/session.ts. One line per user on stderr; --json: one document on stdout.
 * Exit 0 all fine, 4 if any user needs reconnect, else 75 if any temporary failure.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { ExitCode, UsageError } from '../errors.js';
import { resolve as resolvePath } from 'node:path';
import type { TokenStore } from '../core/store/types.js';
import { formatDuration } from '../core/duration.js';
import { DEFAULT_REFRESH_CONCURRENCY } from '../core/refresh-concurrency.js';
import type { RefreshOutcome } from '../core/refresh-all.js';
import { listUsers } from '../core/store/document.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { reconnectCommand } from '../core/reconnect-command.js';
import type { Output } from '../io/output.js';
import { resolveStoredEmail } from './shared/resolve-email.js';
import { durationOption } from './shared/duration-option.js';
import { NOTIFY_COMMAND_HELP } from './shared/notify-help.js';

interface RefreshOptions {
  email?: string;
  all?: boolean;
  force?: boolean;
  minValid: number;
  maxAge: number;
  concurrency: number;
  quiet?: boolean;
  notifyCommand?: string;
  metricsFile?: string;
}

function concurrencyOption(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 256) throw new InvalidArgumentError('expected a whole number 1-256');
  return n;
}

export function registerRefresh(program: Command, action: ActionFactory): void {
  program
    .command('refresh')
    .description('refresh access tokens that expire soon (for cron); rotation-safe across processes')
    .option('--email <email>', 'the QC user (default: $BOX_QC_EMAIL, or the only connected user)')
    .option('--all', 'every connected user')
    .option('--force', 'refresh even if the tokens are still fresh')
    .addOption(
      new Option('--min-valid <duration>', 'refresh when the access token expires within this (90s, 10m, 2h, 7d)')
        .argParser(durationOption)
        .default(10 * 60_000, '10m'),
    )
    .addOption(
      new Option(
        '--max-age <duration>',
        'refresh when the refresh token is older than this (Box kills it after 60 days unused)',
      )
        .argParser(durationOption)
        .default(7 * 86_400_000, '7d'),
    )
    .option(
      '--concurrency <n>',
      'users refreshed at the same time with --all (each waits on Box and on two durable saves)',
      concurrencyOption,
      DEFAULT_REFRESH_CONCURRENCY,
    )
    .option('--quiet', 'print nothing when every user is fine; one line per problem on stderr (for cron MAILTO)')
    .option('--notify-command <cmd>', NOTIFY_COMMAND_HELP)
    .option(
      '--metrics-file <path>',
      "after the run, write Prometheus metrics to this file, atomically (for node_exporter's textfile collector)",
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 all fine, 4 if any user must reconnect, else 75 if any temporary failure (try again later).
--quiet: silent when all is well, so cron mails only on trouble; problems (and warnings) are one line each on
stderr, and the exit code is the same as without it.

Examples:
  $ box-qc refresh --all                        # from cron, e.g. every 30 minutes:
      */30 * * * *  box-qc refresh --all --env-file /etc/box-qc.env >>/var/log/box-qc.log 2>&1
  $ box-qc refresh --email alice@example.com --force
  $ box-qc refresh --all --json | jq '.users[] | select(.status != "skipped")'
  $ box-qc refresh --all --quiet --notify-command '/usr/local/bin/box-qc-to-chat'   # MAILTO gets only trouble
  $ box-qc refresh --all --metrics-file /var/lib/node_exporter/textfile_collector/box_qc.prom`,
    )
    .action(action<RefreshOptions>(runRefresh));
}

async function runRefresh(ctx: CommandContext, opts: RefreshOptions): Promise<number> {
  if (opts.all && opts.email !== undefined) throw new UsageError('use either --email or --all, not both');
  const metrics = opts.metricsFile !== undefined ? await import('../core/health/metrics-file.js') : undefined;
  if (metrics && opts.metricsFile !== undefined) await metrics.checkMetricsPath(resolvePath(opts.metricsFile));
  const { sessionForCommand } = await import('./shared/http.js');
  const { refreshMany, exitCodeFor } = await import('../core/refresh-all.js');
  const cs = await sessionForCommand(
    ctx,
    opts.notifyCommand !== undefined ? { notifyCommand: opts.notifyCommand } : {},
  );
  const quiet = opts.quiet === true;
  try {
    const emails = opts.all ? listUsers(await cs.store.read()) : [await resolveStoredEmail(ctx, opts.email, cs.store)];
    if (emails.length === 0 && !ctx.out.isJson && !quiet) ctx.out.info('no connected users: nothing to refresh');
    const progress = await startProgress(ctx.out, opts.all === true && !quiet, emails.length);
    const now = ctx.deps.now;
    const viaInvite = ctx.config().publicUrl !== undefined;
    const outcomes = await refreshMany(cs.session, emails, {
      force: opts.force === true,
      minValidMs: opts.minValid,
      maxAgeMs: opts.maxAge,
      concurrency: opts.concurrency,
      onOutcome: (o, done) =>
        progress.report(() => {
          if (!ctx.out.isJson && !(quiet && isFine(o))) printOutcome(ctx.out, o, now(), viaInvite);
        }, done),
    }).finally(() => progress.stop());
    let exitCode = exitCodeFor(outcomes);
    if (metrics && opts.metricsFile !== undefined) {
      exitCode = await writeMetrics(
        ctx,
        metrics,
        resolvePath(opts.metricsFile),
        () => cs.store.read(),
        outcomes,
        exitCode,
      );
    }
    if (ctx.out.isJson) ctx.out.json(jsonDocument(outcomes, exitCode, viaInvite));
    else if (emails.length > 1 && !quiet) ctx.out.info(summaryLine(outcomes));
    return exitCode;
  } finally {
    await cs.close();
  }
}

/**
 * A metrics file that cannot be written (or a store that cannot be read for it, after the refreshes) is said
 * once and turns exit 0 into 1 (monitoring would go stale); it never replaces the run's own exit code.
 */
async function writeMetrics(
  ctx: CommandContext,
  metrics: typeof import('../core/health/metrics-file.js'),
  path: string,
  read: () => ReturnType<TokenStore['read']>,
  outcomes: RefreshOutcome[],
  exitCode: number,
): Promise<number> {
  try {
    await metrics.writeRunMetrics(path, await read(), outcomes, ctx.deps.now());
    return exitCode;
  } catch (err) {
    ctx.out.warn(err instanceof Error ? err.message : String(err));
    return exitCode === 0 ? ExitCode.FAILED : exitCode;
  }
}

interface Progress {
  report(print: () => void, done: number): void;
  stop(): Promise<void>;
}

/**
 * A "refreshing n/total" spinner on an interactive stderr for --all; plain lines everywhere else. ora 9 hooks
 * the stream's write: our per-user lines clear and redraw the spinner instead of tearing it.
 */
async function startProgress(out: Output, enabled: boolean, total: number): Promise<Progress> {
  if (!enabled || !out.interactive || out.isJson) return { report: (print) => print(), stop: async () => {} };
  const spinner = await out.spinner(`refreshing 0/${total}`);
  return {
    report(print, done) {
      print();
      spinner.update(`refreshing ${done}/${total}`);
    },
    async stop() {
      spinner.stop();
    },
  };
}

/** What --quiet leaves out: a user whose tokens are fine and who needs nobody's attention. */
function isFine(o: RefreshOutcome): boolean {
  return (o.status === 'refreshed' || o.status === 'skipped') && (o.warnings?.length ?? 0) === 0;
}

/** `viaInvite`: BOX_QC_PUBLIC_URL is set, so a dead connection is fixed with an invite link (issue 17). */
function printOutcome(out: Output, o: RefreshOutcome, now: number, viaInvite: boolean): void {
  const who = terminalSafe(o.email);
  const left = o.expiresAt !== undefined ? `valid for ${formatDuration(o.expiresAt - now)}` : '';
  switch (o.status) {
    case 'refreshed':
      out.success(`refreshed  ${who}  (${left})`);
      break;
    case 'skipped':
      out.info(`skipped    ${who}  (${left})`);
      break;
    case 'needs_reconnect':
      out.info(
        `${out.paint.red('needs reconnect')}  ${who}: ${terminalSafe(o.error?.message ?? '')}  run: ${reconnectCommand(who, viaInvite)}`,
      );
      break;
    default:
      out.info(
        `${out.paint.yellow(o.status === 'failed' ? 'failed' : 'temporary failure')}  ${who}: ${terminalSafe(o.error?.message ?? '')}`,
      );
  }
}

function counts(outcomes: readonly RefreshOutcome[]): Record<RefreshOutcome['status'], number> {
  const c = { refreshed: 0, skipped: 0, needs_reconnect: 0, temporary_failure: 0, failed: 0 };
  for (const o of outcomes) c[o.status] += 1;
  return c;
}

function summaryLine(outcomes: readonly RefreshOutcome[]): string {
  const c = counts(outcomes);
  return `${outcomes.length} users: ${c.refreshed} refreshed, ${c.skipped} skipped, ${c.needs_reconnect} need reconnect, ${c.temporary_failure} temporary failures${c.failed ? `, ${c.failed} failed` : ''}`;
}

function jsonDocument(outcomes: readonly RefreshOutcome[], exitCode: number, viaInvite: boolean) {
  return {
    ok: exitCode === 0,
    exitCode,
    summary: counts(outcomes),
    users: outcomes.map((o) => ({
      email: o.email,
      status: o.status,
      ...(o.expiresAt !== undefined ? { access_token_expires_at: new Date(o.expiresAt).toISOString() } : {}),
      ...(o.error ? { error: o.error } : {}),
      // What the text line says after "run:" (issue 17: an invite link when serve is reachable).
      ...(o.status === 'needs_reconnect' ? { reconnect_command: reconnectCommand(o.email, viaInvite) } : {}),
      ...(o.warnings ? { warnings: o.warnings } : {}),
    })),
  };
}
