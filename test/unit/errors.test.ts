import { describe, expect, it } from 'vitest';
import {
  BoxApiError,
  BoxQcError,
  ConfigError,
  ExitCode,
  InterruptedError,
  OperationError,
  ReconnectRequiredError,
  StoreBusyError,
  StoreError,
  StoreWriteError,
  TemporaryError,
  UsageError,
} from '../../src/errors.js';

describe('error classes map to the documented exit codes', () => {
  it.each<[string, BoxQcError, number]>([
    ['UsageError', new UsageError('bad flag'), 2],
    ['ConfigError', new ConfigError('missing'), 2],
    ['StoreError', new StoreError('E_STORE_CORRUPT', '/s.json', 'corrupt'), 2],
    ['StoreWriteError', new StoreWriteError('E_STORE_WRITE', '/s.json', 'disk full'), 1],
    ['StoreBusyError', new StoreBusyError('store busy (held by pid 4)'), 75],
    ['ReconnectRequiredError', new ReconnectRequiredError('a@b.c', 'not connected'), 4],
    ['TemporaryError', new TemporaryError('Box unreachable'), 75],
    ['BoxApiError', new BoxApiError('not found', { status: 404 }), 1],
    ['OperationError', new OperationError('E_TIMEOUT', 'timed out'), 1],
    ['InterruptedError', new InterruptedError(), 130],
  ])('%s -> exit %i', (_name, err, code) => {
    expect(err.exitCode).toBe(code);
    expect(err.code).toMatch(/^E_[A-Z_]+$/);
    expect(err).toBeInstanceOf(BoxQcError);
    expect(err).toBeInstanceOf(Error);
  });

  it('exposes the exit code table', () => {
    expect(ExitCode).toEqual({ OK: 0, FAILED: 1, USAGE: 2, RECONNECT: 4, TEMPFAIL: 75, INTERRUPTED: 130 });
  });

  it('a reconnect error hints at the connect command for that email', () => {
    const e = new ReconnectRequiredError('a@b.c', 'Box rejected the refresh token');
    expect(e.hint).toBe('run: box-qc connect --email a@b.c');
    expect(e.details).toMatchObject({ email: 'a@b.c' });
  });

  it('keeps the cause without putting it in the message', () => {
    const cause = new Error('ECONNRESET');
    const e = new TemporaryError('Box unreachable', { cause });
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('Box unreachable');
  });
});
