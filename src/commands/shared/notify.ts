/**
 * Glue for the notifier (issue 18): validates the notify settings of a command (exit 2 before any work) and
 * returns what delivers the store's pending transitions once the command's saves are committed. Used by
 * refresh, token, ls (through sessionForCommand) and connect; `serve` calls the same two functions.
 */
import { randomUUID } from 'node:crypto';
import type { CommandContext } from '../context.js';
import { deliverPending, type DeliverResult, type NotifyTransport } from '../../core/health/deliver.js';
import { loadNotifyConfig, type NotifyConfig } from '../../core/health/notify-config.js';
import { notifyCommandEnv, runNotifyCommand } from '../../core/health/notify-command.js';
import { postWebhook } from '../../core/health/webhook.js';
import type { TokenStore } from '../../core/store/types.js';
import { VERSION } from '../../version.js';

export interface Notifier {
  /** Delivers what this process can claim; never throws (a failure is one warning line). */
  deliver(store: TokenStore): Promise<DeliverResult>;
}

/** One claim id per process: a lease this process holds is recognised as its own. */
const OWNER = randomUUID();

/** undefined when no notifier is configured; ConfigError (exit 2) when one is configured wrongly. */
export function notifierFor(ctx: CommandContext, flagCommand?: string): Notifier | undefined {
  const config = loadNotifyConfig(ctx.deps.env, flagCommand);
  if (!config) return undefined;
  const transports = transportsFor(ctx, config);
  const once = (store: TokenStore) =>
    deliverPending({
      store,
      now: ctx.deps.now,
      owner: OWNER,
      transports,
      publicUrlConfigured: config.publicUrlConfigured,
      warn: (line) => ctx.out.warn(line),
      debug: (line) => ctx.out.debug(line),
    }).catch(() => ({ delivered: 0, failed: 0 }));
  // One delivery at a time per process (serve finishes many callbacks): a call that arrives meanwhile asks
  // for one more pass after the current one, so nothing is delivered twice and nothing recorded is skipped.
  let running: Promise<DeliverResult> | undefined;
  let again = false;
  return {
    deliver(store) {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        let last: DeliverResult;
        do {
          again = false;
          last = await once(store);
        } while (again);
        return last;
      })().finally(() => {
        running = undefined;
      });
      return running;
    },
  };
}

function transportsFor(ctx: CommandContext, config: NotifyConfig): NotifyTransport[] {
  const transports: NotifyTransport[] = [];
  const timeout = config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {};
  const { command, webhook } = config;
  if (command !== undefined)
    transports.push({
      name: 'command',
      deliver: (body, event) =>
        runNotifyCommand({
          command,
          body,
          env: notifyCommandEnv(ctx.deps.env, event),
          // detached: the child leads its own group, so -pid reaches everything it started.
          killGroup: (pid) => process.kill(-pid, 'SIGKILL'),
          debug: (line) => ctx.out.debug(line),
          ...timeout,
        }),
    });
  if (webhook !== undefined)
    transports.push({
      name: 'webhook',
      deliver: (body) =>
        postWebhook({ url: webhook.url, secret: webhook.secret, body, userAgent: `box-qc/${VERSION}`, ...timeout }),
    });
  return transports;
}
