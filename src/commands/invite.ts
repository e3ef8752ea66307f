/**
 * `box-qc invite` (issue 17): make a single-use connect link for one QC user, list pending links, revoke
 * them. The person opens the link in their own browser; `box-qc serve` (reached at BOX_QC_PUBLIC_URL) takes
 * it from there. Making a link needs the store and BOX_QC_PUBLIC_URL only: no Box credentials, no server,
 * no network. The link is printed once, alone on stdout; the store keeps only its hash.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { requirePublicUrl } from '../config.js';
import { UsageError } from '../errors.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { durationOption } from './shared/duration-option.js';
import { openStoreForCommand } from './shared/open-store.js';
import { normalizeNewEmail } from './shared/resolve-email.js';

interface InviteOptions {
  email?: string;
  expires: number;
  list?: boolean;
  revoke?: boolean;
}

const HOUR = 3_600_000;
const DEFAULT_EXPIRES_MS = 72 * HOUR;
const MAX_EXPIRES_MS = 30 * 24 * HOUR;

function expiresOption(raw: string): number {
  const ms = durationOption(raw);
  if (ms <= 0 || ms > MAX_EXPIRES_MS) throw new InvalidArgumentError('expected a duration above 0 and at most 30d');
  return ms;
}

export function registerInvite(program: Command, action: ActionFactory): void {
  program
    .command('invite')
    .description('make a single-use link a QC user opens to connect their Box account (served by box-qc serve)')
    .option('--email <email>', 'the QC user the link connects (a new link revokes their earlier pending ones)')
    .option('--expires <duration>', 'how long the link stays usable, e.g. 12h or 7d (at most 30d)', expiresOption)
    .option('--list', 'list pending links (email, created, expires; never the link itself)')
    .option('--revoke', "revoke the pending links of --email's user")
    .addHelpText(
      'after',
      `
Examples:
  $ box-qc invite --email alice@example.com                 # prints the link: send it to Alice
  $ box-qc invite --email alice@example.com --expires 7d
  $ box-qc --json invite --email alice@example.com          # {"ok":true,"email":...,"url":...,"expires_at":...}
  $ box-qc invite --list
  $ box-qc invite --revoke --email alice@example.com

Needs BOX_QC_PUBLIC_URL, the address at which box-qc serve is reached (README: "Connect links").
The link is shown once and works once; the store keeps only its SHA-256. Default expiry: 72h.`,
    )
    .action(action<InviteOptions>(runInvite));
}

async function runInvite(ctx: CommandContext, opts: InviteOptions): Promise<void> {
  const mode = checkFlags(opts);
  const email = opts.email === undefined ? undefined : normalizeNewEmail(opts.email);
  const publicUrl = requirePublicUrl(ctx.config());
  const invites = await import('../core/invites/invites.js');
  const store = openStoreForCommand(ctx);
  try {
    const now = ctx.deps.now();
    if (mode === 'list') {
      const list = invites.listPendingInvites(await store.read(), now);
      if (ctx.out.isJson) ctx.out.json({ ok: true, invites: list });
      else if (list.length === 0) ctx.out.info('no pending invites');
      else
        await ctx.out.data(
          list.map((i) => `${terminalSafe(i.email)}  created ${i.created_at}  expires ${i.expires_at}\n`).join(''),
        );
      return;
    }
    if (mode === 'revoke') {
      const revoked = await invites.revokeInvites(store, email!, now);
      if (ctx.out.isJson) ctx.out.json({ ok: true, email, revoked });
      else ctx.out.info(`revoked ${revoked} pending invite${revoked === 1 ? '' : 's'} for ${terminalSafe(email!)}`);
      return;
    }
    const { inviteLink } = await import('../core/invites/links.js');
    const made = await invites.createInvite(store, { email: email!, expiresInMs: opts.expires, now });
    const url = inviteLink(publicUrl, made.token);
    if (ctx.out.isJson) ctx.out.json({ ok: true, email, url, expires_at: made.record.expires_at });
    else await ctx.out.data(`${url}\n`);
    if (made.revoked > 0)
      ctx.out.info(
        `revoked ${made.revoked} earlier pending invite${made.revoked === 1 ? '' : 's'} for ${terminalSafe(email!)}`,
      );
    ctx.out.info(
      `Send this link to ${terminalSafe(email!)}: it works once, until ${made.record.expires_at}, and needs box-qc serve running at ${terminalSafe(publicUrl.href)}.`,
    );
  } finally {
    await store.close();
  }
}

/** Which of the three jobs, or exit 2 before anything is read or written. */
function checkFlags(opts: InviteOptions & { expires?: number }): 'create' | 'list' | 'revoke' {
  if (opts.list && (opts.revoke || opts.email !== undefined || opts.expires !== undefined))
    throw new UsageError('--list takes no other flag');
  if (opts.revoke) {
    if (opts.email === undefined) throw new UsageError('--revoke needs --email <email>', { code: 'E_NO_EMAIL' });
    if (opts.expires !== undefined) throw new UsageError('--revoke takes no --expires');
    return 'revoke';
  }
  if (opts.list) return 'list';
  if (opts.email === undefined)
    throw new UsageError('invite needs --email <email> (or --list)', { code: 'E_NO_EMAIL' });
  opts.expires ??= DEFAULT_EXPIRES_MS;
  return 'create';
}
