/**
 * `box-qc token`: a valid access token alone on stdout (refreshing through the one protocol if needed), for
 * `curl -H "Authorization: Bearer $(box-qc token)"` and the QC automation. Exit 4 when reconnect is needed.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { durationOption } from './shared/duration-option.js';
import { resolveStoredEmail } from './shared/resolve-email.js';
import { NOTIFY_COMMAND_HELP } from './shared/notify-help.js';

interface TokenOptions {
  email?: string;
  minValid?: number;
  notifyCommand?: string;
}

export function registerToken(program: Command, action: ActionFactory): void {
  program
    .command('token')
    .description('print a valid access token on stdout (refreshing it if needed)')
    .option('--email <email>', 'the QC user (default: $BOX_QC_EMAIL, or the only connected user)')
    .option('--min-valid <duration>', 'refresh first if the token expires within this (e.g. 90s, 10m)', durationOption)
    .option('--notify-command <cmd>', NOTIFY_COMMAND_HELP)
    .addHelpText(
      'after',
      `
The token is printed alone on stdout; messages go to stderr. Never paste it into logs.

Examples:
  $ curl -H "Authorization: Bearer $(box-qc token --email alice@example.com)" https://api.box.com/2.0/users/me
  $ box-qc token --min-valid 30m > /dev/null   # make sure it lasts 30 more minutes
  $ box-qc token --json                        # {"ok":true,"email":…,"access_token":…,"expires_at":…}`,
    )
    .action(action<TokenOptions>(runToken));
}

async function runToken(ctx: CommandContext, opts: TokenOptions): Promise<void> {
  const { sessionForCommand } = await import('./shared/http.js');
  const { getValidAccessToken } = await import('../core/session.js');
  const cs = await sessionForCommand(
    ctx,
    opts.notifyCommand !== undefined ? { notifyCommand: opts.notifyCommand } : {},
  );
  try {
    const email = await resolveStoredEmail(ctx, opts.email, cs.store);
    const r = await getValidAccessToken(
      cs.session,
      email,
      opts.minValid !== undefined ? { minValidMs: opts.minValid } : {},
    );
    if (ctx.out.isJson) {
      ctx.out.json({
        ok: true,
        email,
        access_token: r.accessToken,
        expires_at: new Date(r.expiresAt).toISOString(),
        refreshed: r.refreshed,
      });
    } else {
      await ctx.out.data(`${r.accessToken}\n`);
    }
  } finally {
    await cs.close();
  }
}
