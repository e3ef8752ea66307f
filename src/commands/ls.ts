/**
 * `box-qc ls [folderId]`: every item of a Box folder (the smoke test that a connection works), streamed page
 * by page with back-pressure so a million items need two pages of memory (the one written, the one
 * requested), over node:http with a heap kept small (issue 8: peak RSS flat). Text: aligned `type  id  name`
 * on a terminal, tab-separated on a pipe, names made terminal-safe; --json: one JSON array, streamed.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { FolderNotFoundError, type FolderItem } from '../core/box/client.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../core/box/request.js';
import { getUser } from '../core/store/document.js';
import { readUser } from '../core/store/scoped.js';
import { OperationError, UsageError } from '../errors.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { resolveStoredEmail } from './shared/resolve-email.js';
import { NOTIFY_COMMAND_HELP } from './shared/notify-help.js';

interface LsOptions {
  email?: string;
  limit?: number;
  notifyCommand?: string;
}

function limitOption(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new InvalidArgumentError('expected a whole number of items (1 or more)');
  return n;
}

export function registerLs(program: Command, action: ActionFactory): void {
  program
    .command('ls')
    .description('list the items of a Box folder (default: the root folder 0)')
    .argument('[folderId]', 'Box folder id', '0')
    .option('--email <email>', 'the QC user (default: $BOX_QC_EMAIL, or the only connected user)')
    .option('--limit <n>', 'stop after n items', limitOption)
    .option('--notify-command <cmd>', NOTIFY_COMMAND_HELP)
    .addHelpText(
      'after',
      `
Output: "type  id  name" columns on a terminal, tab-separated lines on a pipe, one JSON array with --json.

Examples:
  $ box-qc ls --email alice@example.com
  $ box-qc ls 123456789 --limit 20
  $ box-qc ls 0 --json | jq -r '.[] | select(.type == "folder") | .name'`,
    )
    .action(action<LsOptions>(runLs));
}

async function runLs(ctx: CommandContext, opts: LsOptions, args: string[]): Promise<void> {
  const folderId = args[0] ?? '0';
  if (!/^\d+$/.test(folderId))
    throw new UsageError(`folder id must be digits, got ${JSON.stringify(folderId.slice(0, 40))}`);
  const { sessionForCommand } = await import('./shared/http.js');
  const { getValidAccessToken } = await import('../core/session.js');
  const { listFolderPages } = await import('../core/box/client.js');
  const { keepHeapSmallWhileStreaming } = await import('../v8-flags.js');
  await keepHeapSmallWhileStreaming();
  const cs = await sessionForCommand(ctx, {
    fewRequests: false,
    ...(opts.notifyCommand !== undefined ? { notifyCommand: opts.notifyCommand } : {}),
  });
  const writer = itemWriter(ctx);
  try {
    const email = await resolveStoredEmail(ctx, opts.email, cs.store);
    const doc = await readUser(cs.store, email);
    const login = getUser(doc, email)?.box_user_login ?? email;
    const auth = {
      get: async () => (await getValidAccessToken(cs.session, email)).accessToken,
      // 401 mid-listing: one refresh through the protocol, then the same marker again (issue 6).
      renew: async (rejected: string) =>
        (await getValidAccessToken(cs.session, email, { rejectedAccessToken: rejected })).accessToken,
    };
    let remaining = opts.limit ?? Infinity;
    try {
      const client = { http: cs.session.http, apiBaseUrl: cs.session.apiBaseUrl, retry: retryPolicy(ctx) };
      for await (const page of listFolderPages(
        client,
        folderId,
        auth,
        opts.limit !== undefined ? { maxItems: opts.limit } : {},
      )) {
        const items = page.items.slice(0, remaining);
        remaining -= items.length;
        await writer.write(items);
        // `box-qc ls | head`: the reader has what it wanted; fetching the rest would only cost Box calls.
        if (remaining <= 0 || ctx.out.stdoutGone) break;
      }
    } catch (err) {
      if (err instanceof FolderNotFoundError) {
        throw new OperationError('E_FOLDER_NOT_FOUND', `folder ${folderId} not found or not shared with ${login}`, {
          cause: err,
          details: { folderId, requestId: err.requestId },
        });
      }
      throw err;
    } finally {
      await writer.end();
    }
  } finally {
    await cs.close();
  }
}

/** BOX_QC_RETRY_BASE_MS (tests only, like BOX_QC_LOCK_WAIT_MS): shortens the backoff base, never the attempts. */
function retryPolicy(ctx: CommandContext): RetryPolicy {
  const raw = ctx.deps.env.BOX_QC_RETRY_BASE_MS;
  const base = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : DEFAULT_RETRY.baseDelayMs;
  return { ...DEFAULT_RETRY, baseDelayMs: base };
}

interface ItemWriter {
  write(items: FolderItem[]): Promise<void>;
  /** Closes the JSON array (also after a failure, so what was streamed stays one parseable array). */
  end(): Promise<void>;
}

function itemWriter(ctx: CommandContext): ItemWriter {
  const out = ctx.out;
  if (out.isJson) {
    let started = false;
    let count = 0;
    return {
      async write(items) {
        if (items.length === 0 && started) return;
        let chunk = started ? '' : '[';
        started = true;
        for (const it of items) {
          chunk += `${count++ === 0 ? '\n' : ',\n'}  ${JSON.stringify(it.sha1 ? { type: it.type, id: it.id, name: it.name, sha1: it.sha1 } : { type: it.type, id: it.id, name: it.name })}`;
        }
        await out.data(chunk);
      },
      async end() {
        if (started) await out.data(count === 0 ? ']\n' : '\n]\n');
      },
    };
  }
  if (out.stdoutIsTTY) {
    let idWidth = 12;
    return {
      async write(items) {
        // Streaming: widths cannot wait for the last page; ids only grow the column, never shrink it.
        for (const it of items) idWidth = Math.max(idWidth, it.id.length);
        const lines = items.map(
          (it) =>
            `${terminalSafe(it.type).padEnd(8)}  ${terminalSafe(it.id).padEnd(idWidth)}  ${terminalSafe(it.name)}\n`,
        );
        await out.data(lines.join(''));
      },
      async end() {},
    };
  }
  return {
    async write(items) {
      // terminalSafe escapes tabs and newlines too: a name cannot break its tab-separated line.
      await out.data(
        items.map((it) => `${terminalSafe(it.type)}\t${terminalSafe(it.id)}\t${terminalSafe(it.name)}\n`).join(''),
      );
    },
    async end() {},
  };
}
