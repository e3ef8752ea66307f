/**
 * BOX_QC_REFRESH_TIMEOUT_MS (tests only, like BOX_QC_LOCK_WAIT_MS): overrides the bound on the refresh POST
 * (Session.refreshTimeoutMs, default 30 s, reliability.md §6 step 4), so the fault suite can hold a refresher
 * past its deadline in seconds rather than half a minute (test/faults/paused-refresher.test.ts).
 */
import { ConfigError } from '../../errors.js';

export function parseRefreshTimeoutMs(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError('BOX_QC_REFRESH_TIMEOUT_MS must be a whole, positive number of milliseconds', { code: 'E_CONFIG_REFRESH_TIMEOUT' });
  }
  return n;
}

/** `{ refreshTimeoutMs }` for the command's Session when BOX_QC_REFRESH_TIMEOUT_MS is set, else `{}`. */
export function refreshTimeoutOption(env: Record<string, string | undefined>): { refreshTimeoutMs?: number } {
  const ms = parseRefreshTimeoutMs(env.BOX_QC_REFRESH_TIMEOUT_MS);
  return ms === undefined ? {} : { refreshTimeoutMs: ms };
}
