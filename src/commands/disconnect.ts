/**
 * `box-qc disconnect --email E | --all`: revoke at Box, forget locally, say exactly what happened at Box.
 * Not connected is not an error (exit 0, idempotent for scripts).
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { normalizeEmail, requireClientCredentials } from '../config.js';
import { BoxQcError, TemporaryError, UsageError } from '../errors.js';
import type { DisconnectResult } from '../core/disconnect.js';
import { openStoreForCommand } from './shared/open-store.js';
import { terminalSafe } from '../io/terminal-safe.js';

interface DisconnectOptions {
  email?: string;
  all?: boolean;
}

export function registerDisconnect(program: Command, action: ActionFactory): void {
  program
    .command('disconnect')
    .description('revoke a connection at Box and forget it locally (other users untouched)')
    .option('--email <email>', 'the QC user to disconnect')
    .option('--all', 'disconnect every connected user')
    .addHelpText(
      'after',
      `
Examples:
  $ box-qc disconnect --email alice@example.com
  $ box-qc disconnect --all`,
    )
    .action(action<DisconnectOptions>(runDisconnect));
}

const MESSAGES: Record<DisconnectResult['outcome'], string> = {
  revoked: 'revoked at Box and forgotten locally',
  'already-invalid': 'already invalid at Box; forgotten locally',
  unreachable: 'Box unreachable: token forgotten locally but still valid at Box until it expires',
  refused: 'Box refused the revoke: token forgotten locally but may still be valid at Box until it expires',
  'not-connected': 'not connected; nothing to do',
};

async function runDisconnect(ctx: CommandContext, opts: DisconnectOptions): Promise<void> {
  if (opts.all === true && opts.email !== undefined) throw new UsageError('use either --email <email> or --all');
  if (opts.all !== true && opts.email === undefined)
    throw new UsageError('disconnect needs --email <email> or --all', { code: 'E_NO_EMAIL' });
  const config = ctx.config();
  const credentials = requireClientCredentials(config);
  const store = openStoreForCommand(ctx);
  const results: DisconnectResult[] = [];
  let closeHttp: (() => Promise<void>) | undefined;
  try {
    const emails = opts.all ? Object.keys((await store.read()).users).sort() : [normalizeEmail(opts.email!)];
    const [{ disconnectUser }, { revokeToken }, { httpForCommand }] = await Promise.all([
      import('../core/disconnect.js'),
      import('../core/oauth/token-endpoint.js'),
      import('./shared/http.js'),
    ]);
    let http: Awaited<ReturnType<typeof httpForCommand>> | undefined;
    const revoke = async (token: string) => {
      if (!http) {
        http = await httpForCommand(ctx);
        const { closeHttpContext } = await import('../core/http/request.js');
        const opened = http;
        closeHttp = () => closeHttpContext(opened);
      }
      return revokeToken({ http, apiBaseUrl: config.apiBaseUrl, credentials }, token);
    };
    for (const email of emails) {
      const r = await disconnectUser(store, email, revoke, classifyRevokeError, ctx.deps.interrupts.signal);
      results.push(r);
      if (!ctx.out.isJson) report(ctx, r);
    }
  } finally {
    await Promise.allSettled([store.close(), closeHttp?.()]);
  }
  if (ctx.out.isJson) ctx.out.json({ ok: true, users: results.map((r) => ({ ...r, message: MESSAGES[r.outcome] })) });
  else if (results.length === 0) ctx.out.info('no users connected; nothing to do');
}

function classifyRevokeError(err: unknown): { outcome: 'unreachable' | 'refused'; code: string } {
  if (err instanceof TemporaryError) return { outcome: 'unreachable', code: err.code };
  if (err instanceof BoxQcError) return { outcome: 'refused', code: err.code };
  return { outcome: 'unreachable', code: 'E_NETWORK' };
}

function report(ctx: CommandContext, r: DisconnectResult): void {
  const text = `${terminalSafe(r.email)}: ${MESSAGES[r.outcome]}${r.code ? ` (${r.code})` : ''}`;
  if (r.outcome === 'revoked' || r.outcome === 'already-invalid') ctx.out.success(`Disconnected ${text}`);
  else if (r.outcome === 'not-connected') ctx.out.info(text);
  else ctx.out.warn(`Disconnected ${text}`);
}
