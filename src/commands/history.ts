/**
 * `box-qc history`: the audit log (issue 18) kept next to the store, newest last: every connect, refresh
 * that reached Box, disconnect, state transition, notification and invite. Text: one line per event on
 * stdout (commands/shared/history-lines.ts); --json: one document `{"ok":true,"events":[...]}`.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { normalizeEmail } from '../config.js';
import { openStoreForCommand } from './shared/open-store.js';
import { durationOption } from './shared/duration-option.js';
import { historyLine } from './shared/history-lines.js';

interface HistoryOptions {
  email?: string;
  since?: number;
}

export function registerHistory(program: Command, action: ActionFactory): void {
  program
    .command('history')
    .description('show the audit log: connects, refreshes, disconnects, state changes, notifications (newest last)')
    .option('--email <email>', 'only this user')
    .option('--since <duration>', 'only events this recent (90s, 10m, 2h, 7d)', durationOption)
    .addHelpText(
      'after',
      `
Only refreshes that reached Box are logged (refreshed, dead, temporary, failed); skips are not, so a cron
run every 10 minutes does not bury what matters. The log sits next to the store (tokens.json ->
tokens.history.jsonl, 0600, 5 MiB with one rotation to .1) or in the box_qc_history table (PostgreSQL).

Examples:
  $ box-qc history --email alice@example.com --since 7d
  $ box-qc history --since 24h --json | jq -r '.events[] | select(.outcome == "dead") | .email'`,
    )
    .action(action<HistoryOptions>(runHistory));
}

async function runHistory(ctx: CommandContext, opts: HistoryOptions): Promise<void> {
  const store = openStoreForCommand(ctx);
  try {
    const events =
      (await store.history?.read({
        ...(opts.email !== undefined ? { email: normalizeEmail(opts.email) } : {}),
        ...(opts.since !== undefined ? { sinceMs: ctx.deps.now() - opts.since } : {}),
      })) ?? [];
    if (ctx.out.isJson) {
      ctx.out.json({ ok: true, events });
      return;
    }
    if (events.length === 0) ctx.out.info('no events recorded');
    else await ctx.out.data(`${events.map(historyLine).join('\n')}\n`);
  } finally {
    await store.close();
  }
}
