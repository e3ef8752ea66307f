/** Commander's usage errors never repeat a typed value (issue 15 item 10). */
import { describe, expect, it } from 'vitest';
import { redactUsageMessage } from '../../../src/usage-message.js';

describe('redactUsageMessage', () => {
  it.each([
    ["error: unknown option '--client-secret=SECRET'", "error: unknown option '--client-secret'"],
    [
      "error: unknown option '--client-secret=SECRET'\n(Did you mean --client-id?)",
      "error: unknown option '--client-secret'\n(Did you mean --client-id?)",
    ],
    ["error: unknown option '-xSECRET'", "error: unknown option '-x'"],
    ["error: unknown option '--=SECRET'", 'error: unknown option (not shown)'],
    ["error: unknown option '--bogus'\n", "error: unknown option '--bogus'"],
    [
      "error: option '--min-valid <duration>' argument 'SECRET' is invalid. expected a duration such as 90s",
      "error: option '--min-valid <duration>' has an invalid value. expected a duration such as 90s",
    ],
    [
      "error: option '--x <v>' argument 'a' is invalid.' is invalid. SECRET' is invalid. why",
      "error: option '--x <v>' has an invalid value. why",
    ],
    [
      "error: command-argument value 'SECRET' is invalid for argument 'limit'. expected a number",
      "error: invalid value for argument 'limit'. expected a number",
    ],
    ["error: unknown command 'SECRET'", 'error: unknown command (not shown)'],
    ["error: unknown command 'sk3cr3t'", 'error: unknown command (not shown)'],
    [
      "error: unknown command 'stauts'\n(Did you mean status?)",
      "error: unknown command 'stauts'\n(Did you mean status?)",
    ],
    [
      "error: too many arguments for 'status'. Expected 0 arguments but got 1.",
      "error: too many arguments for 'status'. Expected 0 arguments but got 1.",
    ],
    ["error: option '--store <path>' argument missing", "error: option '--store <path>' argument missing"],
  ])('%j -> %j', (input, output) => {
    expect(redactUsageMessage(input)).toBe(output);
  });
});
