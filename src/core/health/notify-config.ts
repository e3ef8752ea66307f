/**
 * Which notifier is configured (issue 18), read from the environment and the `--notify-command` flag and
 * validated before any work: BOX_QC_NOTIFY_COMMAND (the flag wins), BOX_QC_NOTIFY_URL (https, or http to a
 * loopback host only, like every URL box-qc takes) with BOX_QC_NOTIFY_SECRET required beside it. A mistake is
 * a ConfigError (exit 2) naming the variable, never repeating its value.
 */
import { parseHttpUrl } from '../../config.js';
import { ConfigError } from '../../errors.js';

export interface NotifyConfig {
  command?: string;
  webhook?: { url: URL; secret: string };
  /** BOX_QC_NOTIFY_TIMEOUT_MS (tests only): the per-transport timeout, default 10 s. */
  timeoutMs?: number;
  /** BOX_QC_PUBLIC_URL is set (`serve` is reachable): the reconnect hint names `box-qc invite`. */
  publicUrlConfigured: boolean;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** undefined when no notifier is configured. */
export function loadNotifyConfig(
  env: Record<string, string | undefined>,
  flagCommand: string | undefined,
): NotifyConfig | undefined {
  if (flagCommand !== undefined && flagCommand.trim() === '')
    throw new ConfigError('--notify-command is empty', { code: 'E_CONFIG_NOTIFY' });
  const command = flagCommand ?? nonEmpty(env.BOX_QC_NOTIFY_COMMAND);
  const rawUrl = nonEmpty(env.BOX_QC_NOTIFY_URL);
  const config: NotifyConfig = { publicUrlConfigured: nonEmpty(env.BOX_QC_PUBLIC_URL) !== undefined };
  if (command !== undefined) config.command = command;
  if (rawUrl !== undefined) {
    const url = parseHttpUrl('BOX_QC_NOTIFY_URL', rawUrl.trim());
    const secret = nonEmpty(env.BOX_QC_NOTIFY_SECRET);
    if (secret === undefined)
      throw new ConfigError('BOX_QC_NOTIFY_SECRET is not set (BOX_QC_NOTIFY_URL needs it to sign each event)', {
        code: 'E_CONFIG_NOTIFY',
        hint: 'set BOX_QC_NOTIFY_SECRET to a long random string shared with the receiver (openssl rand -hex 32)',
      });
    config.webhook = { url, secret };
  }
  const rawTimeout = nonEmpty(env.BOX_QC_NOTIFY_TIMEOUT_MS);
  if (rawTimeout !== undefined) {
    const n = Number(rawTimeout);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new ConfigError('BOX_QC_NOTIFY_TIMEOUT_MS must be a whole, positive number of milliseconds', {
        code: 'E_CONFIG_NOTIFY',
      });
    config.timeoutMs = n;
  }
  if (config.command === undefined && config.webhook === undefined) return undefined;
  return config;
}
