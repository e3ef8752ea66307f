import { describe, expect, it } from 'vitest';
import { parseRefreshTimeoutMs } from '../../../src/commands/shared/refresh-timeout.js';
import { ConfigError } from '../../../src/errors.js';

describe('BOX_QC_REFRESH_TIMEOUT_MS', () => {
  it('unset or blank: the 30 s default (undefined); a whole number of ms overrides it', () => {
    expect(parseRefreshTimeoutMs(undefined)).toBeUndefined();
    expect(parseRefreshTimeoutMs(' ')).toBeUndefined();
    expect(parseRefreshTimeoutMs('2000')).toBe(2000);
  });

  it('anything else is a ConfigError (exit 2), never a silent default', () => {
    for (const raw of ['0', '-1', '1.5', '30s', 'NaN']) {
      const err = (() => {
        try {
          parseRefreshTimeoutMs(raw);
        } catch (e) {
          return e;
        }
      })();
      expect(err, raw).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
    }
  });
});
