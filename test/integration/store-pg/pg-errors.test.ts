/**
 * Pure parts of the PostgreSQL store (issue 9): URL redaction, error mapping to exit codes, and the merge
 * rules of `store migrate`. No server needed.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, OperationError, StoreBusyError, TemporaryError } from '../../../src/errors.js';
import { mapPgError, redactPostgresUrl, scrub, storeSecrets } from '../../../src/core/store/postgres/errors.js';
import { isPostgresUrl } from '../../../src/core/store/location.js';
import { classify, mergeDocuments } from '../../../src/core/store/migrate.js';
import type { StoredUser } from '../../../src/core/store/types.js';
import { describeResult, runCli } from '../../helpers/run-cli.js';

const ctx = { location: 'postgres://u:***@db/x', secrets: ['s3cr%t', 'hunter2'] };

describe('PostgreSQL store URLs', () => {
  it('recognises postgres:// and postgresql:// only', () => {
    expect(isPostgresUrl('postgres://u@h/db')).toBe(true);
    expect(isPostgresUrl('PostgreSQL://u@h/db')).toBe(true);
    expect(isPostgresUrl('/home/u/postgres://x')).toBe(false);
  });

  it('redacts the password in the user info and in the query', () => {
    expect(redactPostgresUrl('postgres://u:p%40ss@db:5432/box?sslmode=require&password=x')).toBe(
      'postgres://u:***@db:5432/box?sslmode=require&password=***',
    );
    expect(redactPostgresUrl('postgres://u@db/box')).toBe('postgres://u@db/box');
    expect(redactPostgresUrl('postgres://u:pw@[bad')).toBe('postgres://(unparsable URL)');
  });

  it('collects the URL password (raw and decoded) and PGPASSWORD as secrets, and scrubs them', () => {
    expect(storeSecrets('postgres://u:p%40ss@db/box', { PGPASSWORD: 'env-pw' }).sort()).toEqual([
      'env-pw',
      'p%40ss',
      'p@ss',
    ]);
    expect(scrub('a p@ss b env-pw', ['p@ss', 'env-pw'])).toBe('a *** b ***');
  });
});

describe('PostgreSQL error mapping', () => {
  const pgErr = (code: string, message = 'x') => Object.assign(new Error(message), { code, severity: 'FATAL' });

  it.each([
    ['28P01', ConfigError, 'E_STORE_AUTH', 2],
    ['28000', ConfigError, 'E_STORE_AUTH', 2],
    ['3D000', ConfigError, 'E_STORE_DB_MISSING', 2],
    ['42501', ConfigError, 'E_STORE_PERMISSION', 2],
    ['ECONNREFUSED', TemporaryError, 'E_STORE_UNREACHABLE', 75],
    ['ENOTFOUND', TemporaryError, 'E_STORE_UNREACHABLE', 75],
    ['57P03', TemporaryError, 'E_STORE_UNAVAILABLE', 75],
    ['53300', TemporaryError, 'E_STORE_UNAVAILABLE', 75],
    ['25006', TemporaryError, 'E_STORE_READONLY', 75],
    // lock_timeout: busy, as the store lock's wait (review of issue 20's fan-out, finding 3).
    ['55P03', StoreBusyError, 'E_STORE_BUSY', 75],
  ])('%s -> %s %s (exit %i)', (code, cls, ecode, exit) => {
    const e = mapPgError(pgErr(code), ctx);
    expect(e).toBeInstanceOf(cls);
    expect(e.code).toBe(ecode);
    expect(e.exitCode).toBe(exit);
    expect(e.message).toContain(ctx.location);
    expect(e.cause).toBeUndefined();
  });

  it('maps a client-side SCRAM failure to an authentication error and a dropped connection to 75', () => {
    expect(mapPgError(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), ctx).code).toBe(
      'E_STORE_AUTH',
    );
    expect(mapPgError(new Error('Connection terminated unexpectedly'), ctx).exitCode).toBe(75);
    expect(
      mapPgError(Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), ctx)
        .exitCode,
    ).toBe(75);
  });

  it('an unknown server error is exit 1 and never carries a secret', () => {
    const e = mapPgError(pgErr('XX000', 'weird failure near hunter2 and s3cr%t'), ctx);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).not.toContain('hunter2');
    expect(e.message).not.toContain('s3cr%t');
  });
});

describe('store migrate merge rules', () => {
  const u = (generation: number, updated_at = '2026-11-01T00:00:00Z', extra: Partial<StoredUser> = {}): StoredUser => ({
    access_token: `at${generation}`,
    refresh_token: `rt${generation}`,
    access_token_expires_at: updated_at,
    connected_at: updated_at,
    updated_at,
    generation,
    ...extra,
  });

  it('copies new and older records, keeps newer ones, and calls a differing tie a conflict', () => {
    expect(classify(u(1), undefined)).toBe('copied');
    expect(classify(u(2), u(1))).toBe('copied');
    expect(classify(u(1), u(2))).toBe('skipped_newer');
    expect(classify(u(2, '2026-11-02T00:00:00Z'), u(2))).toBe('copied');
    expect(classify(u(2), u(2, '2026-11-02T00:00:00Z'))).toBe('skipped_newer');
    expect(classify(u(2), u(2))).toBe('unchanged');
    expect(classify(u(2, undefined, { access_token: 'other' }), u(2))).toBe('skipped_conflict');
  });

  it("carries top-level unknown fields without replacing the destination's", () => {
    const dest = { version: 1 as const, users: {}, mine: 1 };
    mergeDocuments(dest, { version: 1, users: { 'a@x.com': u(1) }, mine: 2, theirs: 3 });
    expect(dest).toMatchObject({ mine: 1, theirs: 3, users: { 'a@x.com': u(1) } });
  });
});

describe('box-qc store help and usage', () => {
  it.each([['store'], ['store', 'init'], ['store', 'migrate']])('%s --help has examples', async (...argv) => {
    const r = await runCli([...argv, '--help']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toContain(`box-qc ${argv.join(' ')}`);
  });

  it('store migrate without --to is a usage error (exit 2)', async () => {
    const r = await runCli(['store', 'migrate', '--from', '/tmp/x.json']);
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toContain('--to');
  });
});
