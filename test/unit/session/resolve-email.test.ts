import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/commands/context.js';
import { loadConfig } from '../../../src/config.js';
import { resolveEmail } from '../../../src/commands/shared/resolve-email.js';
import { UsageError } from '../../../src/errors.js';

function ctxWith(env: Record<string, string>): CommandContext {
  return { config: () => loadConfig({ env, homeDir: '/h' }) } as unknown as CommandContext;
}

describe('resolveEmail', () => {
  it('prefers --email, normalised', () => {
    expect(resolveEmail(ctxWith({ BOX_QC_EMAIL: 'b@x.com' }), '  A@X.com ', ['b@x.com'])).toBe('a@x.com');
  });
  it('falls back to BOX_QC_EMAIL, then to the single connected user', () => {
    expect(resolveEmail(ctxWith({ BOX_QC_EMAIL: 'B@x.com' }), undefined, ['a@x.com', 'c@x.com'])).toBe('b@x.com');
    expect(resolveEmail(ctxWith({}), undefined, ['a@x.com'])).toBe('a@x.com');
  });
  it('exits 2 listing the choices when several users are connected', () => {
    const err = (() => {
      try {
        resolveEmail(ctxWith({}), undefined, ['b@x.com', 'a@x.com']);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toContain('a@x.com, b@x.com');
  });
  it('exits 2 when nobody is connected', () => {
    expect(() => resolveEmail(ctxWith({}), undefined, [])).toThrow(UsageError);
  });
});
