import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { formatTimestamp, parseStoreBytes, parseTimestamp, serializeStore } from '../../../src/core/store/format.js';
import { PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';

describe('parseTimestamp', () => {
  it('reads the Python backend microsecond timestamps', () => {
    expect(parseTimestamp('2026-11-01T10:00:00.123456Z')).toBe(Date.UTC(2026, 10, 1, 10, 0, 0, 123));
  });
  it('reads box-qc whole-second timestamps, +00:00 offsets and other offsets', () => {
    expect(parseTimestamp('2026-11-26T16:00:00Z')).toBe(Date.UTC(2026, 10, 26, 16));
    expect(parseTimestamp('2026-11-26T16:00:00+00:00')).toBe(Date.UTC(2026, 10, 26, 16));
    expect(parseTimestamp('2026-11-26T18:00:00+02:00')).toBe(Date.UTC(2026, 10, 26, 16));
  });
  it('reads a timestamp without zone as UTC (Python utcnow().isoformat())', () => {
    expect(parseTimestamp('2026-11-01T10:00:00.5')).toBe(Date.UTC(2026, 10, 1, 10, 0, 0, 500));
  });
  it('rejects what is not a timestamp', () => {
    for (const bad of ['', 'yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '1700000000', 42, null]) {
      expect(parseTimestamp(bad)).toBeUndefined();
    }
  });
  it('formats UTC with Z and whole seconds', () => {
    expect(formatTimestamp(Date.UTC(2026, 10, 26, 16, 0, 0, 999))).toBe('2026-11-26T16:00:00Z');
  });
});

describe('parseStoreBytes', () => {
  const path = '/x/tokens.json';
  const fail = (text: string | Buffer): StoreError => {
    try {
      parseStoreBytes(typeof text === 'string' ? Buffer.from(text) : text, path);
    } catch (err) {
      expect(err).toBeInstanceOf(StoreError);
      return err as StoreError;
    }
    throw new Error('expected a StoreError');
  };

  it('keeps unknown fields at the top level and per user through a serialise round trip', () => {
    const bytes = readFileSync(PYTHON_BACKEND_FIXTURE);
    const doc = parseStoreBytes(bytes, path);
    expect(doc.backend_note).toBe('written by the QC backend');
    expect(doc.users['alice@example.com']!.qc_team).toBe('line-3');
    expect(JSON.parse(serializeStore(doc).toString())).toEqual(JSON.parse(bytes.toString()));
  });

  it('names the path, exits 2 and gives the parse position for broken JSON', () => {
    const err = fail('{"version": 1, "users": {');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/position \d+|end of JSON/);
  });

  it('rejects an empty file, a BOM, NUL bytes and invalid UTF-8', () => {
    expect(fail('').message).toMatch(/empty/);
    expect(fail(Buffer.from('\ufeff{"version":1,"users":{}}')).message).toMatch(/byte order mark/);
    expect(fail(Buffer.from([0x7b, 0x00, 0x7d])).message).toMatch(/NUL byte at position 1/);
    expect(fail(Buffer.from([0xff, 0xfe, 0x00])).message).toMatch(/not UTF-8/);
  });

  it('rejects wrong shapes and unknown versions', () => {
    expect(fail('[]').message).toMatch(/expected a JSON object/);
    expect(fail('{"users": {}}').message).toMatch(/no "version"/);
    const v2 = fail('{"version": 2, "users": {}}');
    expect(v2.code).toBe('E_STORE_VERSION');
    expect(fail('{"version": "1", "users": {}}').code).toBe('E_STORE_VERSION');
    expect(fail('{"version": 1, "users": null}').message).toMatch(/"users" must be an object/);
    expect(fail('{"version": 1, "users": {"a@x.com": "tok"}}').message).toMatch(/must be an object/);
    expect(fail('{"version": 1, "users": {"a@x.com": {"access_token": 1}}}').message).toMatch(/access_token must be a string/);
    expect(fail('{"version": 1, "users": {"not-an-email": {}}}').message).toMatch(/not an email/);
  });

  it('rejects a record whose expiry is not a timestamp', () => {
    const rec = { access_token: 'a', refresh_token: 'r', access_token_expires_at: 'soon', connected_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };
    expect(fail(JSON.stringify({ version: 1, users: { 'a@x.com': rec } })).message).toMatch(/access_token_expires_at is not an ISO-8601/);
  });

  it('normalises email keys and refuses two keys that collide', () => {
    const rec = { access_token: 'a', refresh_token: 'r', access_token_expires_at: '2026-01-01T00:00:00Z', connected_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };
    const doc = parseStoreBytes(Buffer.from(JSON.stringify({ version: 1, users: { ' Bob@X.com ': rec } })), path);
    expect(Object.keys(doc.users)).toEqual(['bob@x.com']);
    expect(fail(JSON.stringify({ version: 1, users: { 'bob@x.com': rec, 'BOB@x.com': rec } })).message).toMatch(/same email/);
  });
});
