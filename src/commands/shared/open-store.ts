/**
 * The CLI's side of opening the token store: the configured location, the Deps (pid, clock, environment) and the
 * output port (warnings, a spinner while a lock is busy) mapped into the one opener, core/store/open.ts, which
 * the library uses too. The process facts come from src/store-host.ts.
 */
import type { CommandContext } from '../context.js';
import { openPostgres, openStore, type OpenStoreOptions } from '../../core/store/open.js';
import { isPostgresUrl } from '../../core/store/location.js';
import type { LockWaitInfo, TokenStore } from '../../core/store/types.js';
import { nodeStoreOptions } from '../../store-host.js';

/**
 * `fileCalls`: a one-shot command calls node:fs directly (the default); `serve`, which answers many requests
 * at once, through the thread pool (core/store/file/fs-layer.ts).
 */
export function openStoreForCommand(
  ctx: CommandContext,
  overrides: { fileCalls?: OpenStoreOptions['fileCalls'] } = {},
): TokenStore {
  return openStoreAt(ctx, ctx.config().storePath, overrides);
}

/**
 * A store path or postgres:// URL (`store migrate` opens two). `onWarning` replaces the stderr line (`doctor`
 * puts the store's warnings into its report).
 */
export function openStoreAt(
  ctx: CommandContext,
  location: string,
  overrides: { onWarning?: (line: string) => void; fileCalls?: OpenStoreOptions['fileCalls'] } = {},
): TokenStore {
  return openStore(location, { ...commandStoreOptions(ctx, isPostgresUrl(location)), ...overrides });
}

/** `store init`: the PostgreSQL store with its init(). */
export function openPostgresForCommand(ctx: CommandContext, url: string): ReturnType<typeof openPostgres> {
  return openPostgres(url, commandStoreOptions(ctx, true));
}

function commandStoreOptions(ctx: CommandContext, postgres: boolean): OpenStoreOptions {
  const base = nodeStoreOptions(ctx.deps.env);
  return {
    ...base,
    host: { ...base.host, pid: ctx.deps.pid },
    now: ctx.deps.now,
    fileCalls: 'direct',
    ...(ctx.command !== undefined ? { command: ctx.command } : {}),
    onWarning: (line) => ctx.out.warn(line),
    onLockWait: (holder) => {
      const who = postgres ? pgHolder(holder, base.host.hostname) : fileHolder(holder);
      const spinner = ctx.out.spinner(`waiting for the token store (held by ${who})`);
      return () => {
        void spinner.then(
          (s) => s.stop(),
          () => {},
        );
      };
    },
  };
}

function fileHolder(holder: LockWaitInfo): string {
  return holder.pid === undefined ? 'another process' : `pid ${holder.pid}`;
}

/** Several hosts share one database (issue 9): a holder elsewhere is named with its host. */
function pgHolder(holder: LockWaitInfo, ownHost: string): string {
  if (holder.pid === undefined) return 'another client';
  return `pid ${holder.pid}${holder.host && holder.host !== ownHost ? ` on ${holder.host}` : ''}`;
}
