/** BOX_QC_SAVE_BUDGET_MS (tests only): bounds the save retry after a refresh 200 (core/session-save.ts). */
import { describe, expect, it } from 'vitest';
import { refreshTimeoutOption } from '../../../src/commands/shared/refresh-timeout.js';

describe('BOX_QC_SAVE_BUDGET_MS', () => {
  it('unset: the Session keeps its 60 s default; set: passed through', () => {
    expect(refreshTimeoutOption({})).toEqual({});
    expect(refreshTimeoutOption({ BOX_QC_SAVE_BUDGET_MS: '1500' })).toEqual({ saveBudgetMs: 1500 });
    expect(refreshTimeoutOption({ BOX_QC_SAVE_BUDGET_MS: '1500', BOX_QC_REFRESH_TIMEOUT_MS: '2000' })).toEqual({
      saveBudgetMs: 1500,
      refreshTimeoutMs: 2000,
    });
  });

  it.each(['abc', '-1', '1.5'])('%s is a configuration error (exit 2)', (v) => {
    expect(() => refreshTimeoutOption({ BOX_QC_SAVE_BUDGET_MS: v })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG_SAVE_BUDGET', exitCode: 2 }),
    );
  });
});
