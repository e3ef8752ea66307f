/** Issue 15 item 7: a new connection's email holds no control or bidi character; existing keys stay addressable. */
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../../../src/config.js';
import { normalizeNewEmail } from '../../../src/commands/shared/resolve-email.js';

describe('normalizeNewEmail (connect, invite)', () => {
  it('normalises a plain email as normalizeEmail does', () => {
    expect(normalizeNewEmail('  Alice@Example.COM ')).toBe('alice@example.com');
    expect(normalizeNewEmail('jürgen@exämple.de')).toBe('jürgen@exämple.de');
  });

  it.each([
    ['U+202E right-to-left override', 'moc.elpmaxe@\u202eeve'],
    ['U+2066 isolate', 'eve\u2066@example.com'],
    ['U+200F right-to-left mark', 'eve\u200f@example.com'],
    ['U+009B CSI', 'eve\u009b31m@example.com'],
    ['ESC', 'eve\u001b[2J@example.com'],
    ['U+2028 line separator', 'eve\u2028@example.com'],
  ])('refuses %s with a usage error (exit 2) that does not echo it raw', (_what, email) => {
    let err: unknown;
    try {
      normalizeNewEmail(email);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'E_BAD_EMAIL', exitCode: 2 });
    expect((err as Error).message).not.toMatch(/[\u001b\u009b\u200f\u202e\u2066\u2028]/u);
  });

  it('a stored key with a bidi control can still be named for status and disconnect', () => {
    expect(normalizeEmail('moc.elpmaxe@\u202eeve')).toBe('moc.elpmaxe@\u202eeve');
  });
});
