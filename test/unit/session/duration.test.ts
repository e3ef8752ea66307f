import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    [' 5M ', 300_000],
    // Any whole number of a unit: 30 days in seconds is as good as 30d (invite --expires).
    ['2592000s', 2_592_000_000],
    ['43200m', 2_592_000_000],
    ['0000007d', 604_800_000],
    ['999999d', 999_999 * 86_400_000],
    ['86399913600s', 999_999 * 86_400_000],
  ])('reads %s', (raw, ms) => expect(parseDuration(raw)).toBe(ms));
  it.each(['', '10', 'm', '1.5h', '-5m', '10 minutes', '3w', `${'9'.repeat(16)}s`, '1000000d', '86399913601s'])(
    'rejects %j',
    (raw) => expect(parseDuration(raw)).toBeUndefined(),
  );
});

describe('formatDuration', () => {
  it('prints compact spans', () => {
    expect(formatDuration(-1)).toBe('0s');
    expect(formatDuration(59_000)).toBe('59s');
    expect(formatDuration(52 * 60_000)).toBe('52m');
    expect(formatDuration(3 * 3_600_000 + 5 * 60_000)).toBe('3h 5m');
    expect(formatDuration(9 * 86_400_000)).toBe('9d');
  });
});
