/**
 * `box-qc store init` and `box-qc store migrate` (issue 9): create the PostgreSQL store's tables explicitly
 * (they are also created on first use), and copy every user between two stores (file <-> PostgreSQL) in one
 * transaction without ever replacing a newer record. Store URLs are shown with the password redacted.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { ConfigError, UsageError } from '../errors.js';
import type { MigrateReport } from '../core/store/migrate.js';
import { isPostgresUrl } from '../core/store/location.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { openPostgresForCommand, openStoreAt } from './shared/open-store.js';
import { registerStoreCrypto } from './store-crypto.js';

interface MigrateOptions {
  from: string;
  to: string;
}

export function registerStore(program: Command, action: ActionFactory): void {
  const store = program
    .command('store')
    .description('manage the token store: create the PostgreSQL tables, migrate users, encrypt tokens at rest')
    .addHelpText(
      'after',
      `
A store is a file path (the default) or a postgres:// URL, chosen with --store or BOX_QC_STORE.
Put the password in PGPASSWORD (or the URL); box-qc never prints it.

Examples:
  $ BOX_QC_STORE=postgres://boxqc@db.internal/boxqc box-qc store init
  $ box-qc store migrate --from ~/.config/box-qc/tokens.json --to postgres://boxqc@db.internal/boxqc
  $ box-qc store migrate --from postgres://boxqc@db.internal/boxqc --to ./tokens-backup.json --json`,
    );

  store
    .command('init')
    .description('create the PostgreSQL store tables if missing (idempotent; first use also creates them)')
    .argument('[url]', 'postgres:// URL (default: --store / BOX_QC_STORE)')
    .addHelpText(
      'after',
      `
Examples:
  $ box-qc store init postgres://boxqc@db.internal:5432/boxqc
  $ PGPASSWORD=... box-qc --store postgres://boxqc@db.internal/boxqc store init --json`,
    )
    .action(action<Record<string, never>>(runInit));

  store
    .command('migrate')
    .description('copy every user from one store to another in one transaction; never overwrites a newer record')
    .requiredOption('--from <store>', 'source: a token file path or a postgres:// URL')
    .requiredOption('--to <store>', 'destination: a postgres:// URL or a token file path')
    .addHelpText(
      'after',
      `
Each user is reported as copied, unchanged, skipped_newer (the destination has a higher generation, or the
same generation updated later) or skipped_conflict (same generation and time, different content).
Skipping is not a failure (exit 0): the destination already holds something at least as new.

Examples:
  $ box-qc store migrate --from ~/.config/box-qc/tokens.json --to postgres://boxqc@db.internal/boxqc
  $ box-qc store migrate --from postgres://boxqc@db.internal/boxqc --to ./tokens.json
  $ box-qc store migrate --from ./tokens.json --to postgres://boxqc@db/boxqc --json | jq .summary`,
    )
    .action(action<MigrateOptions>(runMigrate));

  registerStoreCrypto(store, action);
}

async function runInit(ctx: CommandContext, _opts: unknown, args: string[]): Promise<void> {
  const url = args[0] ?? ctx.config().storePath;
  if (!isPostgresUrl(url)) {
    throw new UsageError(
      'store init is for a PostgreSQL store (postgres://...); a token file needs no initialisation',
      { code: 'E_STORE_NOT_PG' },
    );
  }
  const store = openPostgresForCommand(ctx, url);
  try {
    const created = await store.init();
    if (ctx.out.isJson) ctx.out.json({ ok: true, location: store.location, created });
    else ctx.out.success(`${created ? 'created the token tables in' : 'already initialised:'} ${store.location}`);
  } finally {
    await store.close();
  }
}

async function runMigrate(ctx: CommandContext, opts: MigrateOptions): Promise<void> {
  if (opts.from === opts.to) throw new UsageError('--from and --to name the same store');
  const { migrateStore } = await import('../core/store/migrate.js');
  const from = openStoreAt(ctx, opts.from);
  const to = openStoreAt(ctx, opts.to);
  try {
    if (from.location === to.location) throw new UsageError('--from and --to name the same store');
    // A missing source is almost always a typo: refuse rather than "migrate" nothing (and never create it).
    if (!(await from.inspect()).exists) {
      throw new ConfigError(`source store ${from.location} does not exist`, { code: 'E_STORE_MISSING' });
    }
    const report = await migrateStore(from, to);
    await render(ctx, report);
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
  }
}

async function render(ctx: CommandContext, report: MigrateReport): Promise<void> {
  const s = report.summary;
  if (ctx.out.isJson) {
    ctx.out.json({ ok: true, ...report });
    return;
  }
  const lines = report.users.map(
    (u) => `${u.action}\t${terminalSafe(u.email)}\tgeneration ${u.from_generation} -> ${u.to_generation ?? 'new'}`,
  );
  if (lines.length > 0) await ctx.out.data(`${lines.join('\n')}\n`);
  ctx.out.success(
    `${report.from} -> ${report.to}: ${s.copied} copied, ${s.unchanged} unchanged, ` +
      `${s.skipped_newer} skipped (newer in destination), ${s.skipped_conflict} skipped (conflict); ${s.total} users`,
  );
}
