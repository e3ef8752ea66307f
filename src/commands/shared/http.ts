/**
 * Glue: the HttpContext and the lifecycle Session a command uses, built from its CommandContext. --debug
 * lines go to stderr through the output port; Ctrl-C (deps.interrupts.signal) aborts requests outside the
 * refresh critical section. `close()` drops keep-alive sockets and store handles so the process exits at once.
 */
import { hostname } from 'node:os';
import { refreshTimeoutOption } from './refresh-timeout.js';
import type { CommandContext } from '../context.js';
import { requireClientCredentials } from '../../config.js';
import { closeHttpContext, createHttpContext, type HttpContext } from '../../core/http/request.js';
import { trackCriticalSections } from '../../core/critical-sections.js';
import type { Session } from '../../core/session.js';
import type { TokenStore } from '../../core/store/types.js';
import { isPidAlive } from '../../store-host.js';
import { openStoreForCommand } from './open-store.js';
import { compileWasmWithBaselineOnly } from '../../v8-flags.js';
import { loadNotifyConfig } from '../../core/health/notify-config.js';

export interface HttpOptions {
  timeoutMs?: number;
  /**
   * Only when a proxy is set (requests then go through undici, core/http/request.ts): a few requests, then exit
   * (token, refresh, connect...), so compile undici's WebAssembly parser with V8's baseline compiler only and
   * do not wait ~100 ms at exit for its optimisation (src/v8-flags.ts). `ls` parses megabytes and keeps the
   * optimised parser.
   */
  fewRequests?: boolean;
  /** --notify-command (issue 18); BOX_QC_NOTIFY_COMMAND / BOX_QC_NOTIFY_URL otherwise. */
  notifyCommand?: string;
}

export async function httpForCommand(ctx: CommandContext, options: HttpOptions = {}): Promise<HttpContext> {
  return createHttpContext({
    env: ctx.deps.env,
    log: { debug: (line) => ctx.out.debug(line) },
    signal: ctx.deps.interrupts.signal,
    ...((options.fewRequests ?? true) ? { beforeUndiciLoads: compileWasmWithBaselineOnly } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}

export interface CommandSession {
  session: Session;
  store: TokenStore;
  close(): Promise<void>;
}

/**
 * Opens the store and the HTTP context; the caller must `await close()` in a finally. The client id and
 * secret are checked first, before the store is even opened (issue 15 item 15): `token`, `refresh` and `ls`
 * may call Box's token endpoint, so a missing one is a configuration error (exit 2) for every user alike,
 * also for a user already marked needs_reconnect (who would otherwise get exit 4) and for one whose access
 * token happens to be fresh today (who would otherwise fail only at the next refresh, in cron).
 */
export async function sessionForCommand(ctx: CommandContext, options: HttpOptions = {}): Promise<CommandSession> {
  const config = ctx.config();
  const credentials = requireClientCredentials(config);
  // A notifier configured wrongly is exit 2 before any work, like the credentials.
  // The notifier's modules (child_process, https, crypto) load only when one is configured: start-up cost.
  const notifier =
    loadNotifyConfig(ctx.deps.env, options.notifyCommand) === undefined
      ? undefined
      : (await import('./notify.js')).notifierFor(ctx, options.notifyCommand);
  const store = openStoreForCommand(ctx);
  const http = await httpForCommand(ctx, options);
  // close() waits for a refresh under way (a 401 on the page `ls` prefetched) before closing the pool and store.
  const sections = trackCriticalSections(ctx.deps.interrupts);
  const session: Session = {
    store,
    http,
    apiBaseUrl: config.apiBaseUrl,
    credentials: () => credentials,
    now: ctx.deps.now,
    interrupts: sections.interrupts,
    log: { debug: (line) => ctx.out.debug(line) },
    // Box's answer lacked something and a default was saved (issue 15 item 2): say so on stderr.
    warn: (line) => ctx.out.warn(line),
    isPidAlive,
    pid: ctx.deps.pid,
    host: hostname(),
    ...refreshTimeoutOption(ctx.deps.env),
  };
  return {
    session,
    store,
    async close() {
      await sections.drain();
      // Transitions are announced once every save of this command is committed (issue 18); not after a stop.
      if (notifier && ctx.deps.interrupts.stopRequested?.aborted !== true) await notifier.deliver(store);
      await Promise.allSettled([closeHttpContext(http), store.close()]);
    },
  };
}
