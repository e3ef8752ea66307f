/**
 * BOX_QC_REFRESH_TIMEOUT_MS (tests only, like BOX_QC_LOCK_WAIT_MS): overrides the bound on the refresh POST
 * (Session.refreshTimeoutMs, default 30 s, reliability.md §6 step 4), so the fault suite can hold a refresher
 * past its deadline in seconds rather than half a minute (test/faults/paused-refresher.test.ts).
 * BOX_QC_SAVE_BUDGET_MS (tests only): the same for the save after a refresh 200 (Session.saveBudgetMs,
 * default 60 s, core/session-save.ts), so a fault that never heals fails in seconds.
 */
import { ConfigError } from '../../errors.js';

export function parseRefreshTimeoutMs(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError('BOX_QC_REFRESH_TIMEOUT_MS must be a whole, positive number of milliseconds', {
      code: 'E_CONFIG_REFRESH_TIMEOUT',
    });
  }
  return n;
}

/** `{ refreshTimeoutMs, saveBudgetMs }` for the command's Session, each only when its variable is set. */
export function refreshTimeoutOption(env: Record<string, string | undefined>): {
  refreshTimeoutMs?: number;
  saveBudgetMs?: number;
} {
  const ms = parseRefreshTimeoutMs(env.BOX_QC_REFRESH_TIMEOUT_MS);
  const budget = parseMs('BOX_QC_SAVE_BUDGET_MS', env.BOX_QC_SAVE_BUDGET_MS);
  return {
    ...(ms === undefined ? {} : { refreshTimeoutMs: ms }),
    ...(budget === undefined ? {} : { saveBudgetMs: budget }),
  };
}

function parseMs(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ConfigError(`${name} must be a whole number of milliseconds`, { code: 'E_CONFIG_SAVE_BUDGET' });
  return n;
}
