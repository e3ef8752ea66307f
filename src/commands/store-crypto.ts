/**
 * `box-qc store keygen | encrypt | rekey | decrypt` (issue 19): make a key line, and convert the stored tokens
 * between plaintext and the current key (core/store/crypto/convert.ts: one user at a time, under the store's
 * locks, safe to interrupt and re-run, alongside cron refreshes). Registered from store.ts.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { ExitCode, UsageError } from '../errors.js';
import type { TokenConversion } from '../core/store/types.js';
import { KEY_ID_PATTERN } from '../core/store/crypto/keyring.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { openStoreForCommand } from './shared/open-store.js';

const CONVERSIONS: Record<TokenConversion, { description: string; done: string }> = {
  encrypt: { description: 'encrypt every plaintext token with the current (first) key', done: 'encrypted' },
  rekey: {
    description: 're-encrypt every token not under the current (first) key, so an older key can be removed',
    done: 're-encrypted',
  },
  decrypt: {
    description: "write every token back in plaintext (the seed's backend cannot decrypt)",
    done: 'decrypted',
  },
};

export function registerStoreCrypto(store: Command, action: ActionFactory): void {
  store
    .command('keygen')
    .description('print a new key line (<key-id>:<base64 of 32 random bytes>) for BOX_QC_KEY_FILE or BOX_QC_KEY')
    .option('--id <id>', 'the key id (default: k<date>-<random>)')
    .addHelpText(
      'after',
      `
The line goes to stdout only: put it in a file only you can read, as the FIRST line to make it the key for
new writes. Older keys stay below it until \`box-qc store rekey\` has moved every value to the new key.

Examples:
  $ (umask 077; box-qc store keygen > ~/.config/box-qc/keys)
  $ box-qc store keygen --id k2 | cat - ~/.config/box-qc/keys > keys.new  # k2 first, then the old keys`,
    )
    .action(action<{ id?: string }>(runKeygen));

  for (const mode of Object.keys(CONVERSIONS) as TokenConversion[]) {
    store
      .command(mode)
      .description(CONVERSIONS[mode].description)
      .addHelpText(
        'after',
        `
One user at a time, each under its lock: safe to interrupt (even kill -9) and re-run, and to run while cron
refreshes. Prints how many users changed and how many were already done.

Examples:
  $ BOX_QC_KEY_FILE=~/.config/box-qc/keys box-qc store ${mode}
  $ BOX_QC_KEY="$(vault read -field=keys secret/box-qc)" box-qc store ${mode} --json`,
      )
      .action(action<Record<string, never>>((ctx) => runConvert(ctx, mode)));
  }
}

async function runKeygen(ctx: CommandContext, opts: { id?: string }): Promise<void> {
  const { newKeyLine, randomSuffix } = await import('../core/store/crypto/aead.js');
  const id = opts.id ?? `k${new Date(ctx.deps.now()).toISOString().slice(0, 10).replaceAll('-', '')}-${randomSuffix()}`;
  if (!KEY_ID_PATTERN.test(id)) {
    throw new UsageError('--id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit', {
      code: 'E_KEY_ID',
    });
  }
  const line = newKeyLine(id);
  if (ctx.out.isJson) ctx.out.json({ ok: true, key_id: id, line });
  else await ctx.out.data(`${line}\n`);
}

async function runConvert(ctx: CommandContext, mode: TokenConversion): Promise<number> {
  const { convertStore } = await import('../core/store/crypto/convert.js');
  const store = openStoreForCommand(ctx);
  try {
    const signal = ctx.deps.interrupts.signal;
    const report = await convertStore(store, mode, signal ? { signal } : {});
    const s = report.summary;
    const left = report.leftover;
    if (ctx.out.isJson) {
      ctx.out.json({ ok: left.length === 0, location: store.location, ...report });
      return left.length === 0 ? 0 : ExitCode.FAILED;
    }
    const key = report.key_id === null ? '' : ` (key ${terminalSafe(report.key_id)})`;
    ctx.out.success(
      `${terminalSafe(store.location)}: ${s.changed} ${CONVERSIONS[mode].done}${key}, ${s.unchanged} already done` +
        `${s.missing > 0 ? `, ${s.missing} removed meanwhile` : ''}; ${s.total} users`,
    );
    if (left.length > 0) {
      ctx.out.warn(
        `${left.length} user${left.length === 1 ? ' was' : 's were'} written meanwhile by a process with another key text (${left.slice(0, 5).map(terminalSafe).join(', ')}${left.length > 5 ? ', ...' : ''}): restart long-running box-qc processes (serve) with the new key file and run store ${mode} again; keep the old key until it reports none`,
      );
      return ExitCode.FAILED;
    }
    return 0;
  } finally {
    await store.close();
  }
}
