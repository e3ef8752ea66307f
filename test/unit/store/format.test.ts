import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import {
  formatTimestamp,
  parseStoreBytes,
  parseTimestamp,
  serializeStore,
  validateDocument,
} from '../../../src/core/store/format.js';
import { deepFreeze } from '../../../src/core/store/document-copy.js';
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
  it("reads box-qc's own shape exactly as Date does: days 0-32 of months 0-13 in six years, leap and not, at the edges of each field", () => {
    const pad = (n: number) => String(n).padStart(2, '0');
    for (const y of [1970, 1999, 2000, 2001, 2024, 2100]) {
      for (let mo = 0; mo <= 13; mo++) {
        for (let d = 0; d <= 32; d++) {
          for (const [h, mi, sec] of [
            [0, 0, 0],
            [23, 59, 59],
            [24, 0, 0],
            [0, 60, 0],
            [0, 0, 60],
          ]) {
            const v = `${y}-${pad(mo)}-${pad(d)}T${pad(h!)}:${pad(mi!)}:${pad(sec!)}Z`;
            const valid =
              mo >= 1 &&
              mo <= 12 &&
              d >= 1 &&
              d <= new Date(Date.UTC(y, mo, 0)).getUTCDate() &&
              h! < 24 &&
              mi! < 60 &&
              sec! < 60;
            expect(parseTimestamp(v), v).toBe(valid ? Date.UTC(y, mo - 1, d, h, mi, sec) : undefined);
          }
        }
      }
    }
    expect(parseTimestamp('1969-12-31T23:59:59Z')).toBe(Date.UTC(1969, 11, 31, 23, 59, 59));
  });

  it('formats exactly as Date does, 20,000 instants from 1000 to 9999 plus the edges', () => {
    const viaDate = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const lo = Date.UTC(1000, 0, 1);
    const hi = Date.UTC(9999, 11, 31, 23, 59, 59);
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const samples = [
      lo,
      hi,
      0,
      -1,
      999,
      1000,
      951_782_400_000 /* 2000-02-29 */,
      4_107_542_399_999,
      Date.UTC(2100, 1, 28, 23, 59, 59, 999),
    ];
    for (let i = 0; i < 20_000; i++) samples.push(Math.floor(lo + random() * (hi - lo)));
    for (const ms of samples) expect(formatTimestamp(ms), String(ms)).toBe(viaDate(ms));
    expect(formatTimestamp(Date.UTC(10000, 0, 1))).toBe('+010000-01-01T00:00:00Z');
    expect(() => formatTimestamp(Number.NaN)).toThrow(RangeError);
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

  it('writes exactly JSON.stringify(doc, null, 2) plus a newline, frozen or not', () => {
    const rec = (i: number) => ({
      access_token: `a${i}`,
      refresh_token: 'r',
      access_token_expires_at: '2026-01-01T00:00:00Z',
      connected_at: 'x',
      updated_at: 'x',
      generation: i,
      needs_reconnect: { reason: 'r', at: 'x', nested: [1, 'two', null, { deep: 'é ✓ \u0000 "q"\n' }] },
      skipped: undefined,
    });
    const docs: unknown[] = [
      { version: 1, users: {} },
      {},
      { users: { 'a@x.com': rec(1) }, version: 1, backend_note: { list: [1, [2, {}], []] }, gone: undefined, n: null },
      { version: 1, users: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`u${i}@x.com`, rec(i)])) },
      { version: 1, users: { 'e@x.com': {}, 'f@x.com': rec(2) } },
    ];
    for (const d of docs) {
      const expected = `${JSON.stringify(d, null, 2)}\n`;
      expect(serializeStore(d as never).toString('utf8')).toBe(expected);
      deepFreeze(d);
      expect(serializeStore(d as never).toString('utf8')).toBe(expected);
      expect(serializeStore(d as never).toString('utf8')).toBe(expected);
    }
    // A new record next to frozen ones.
    const frozen = deepFreeze({ version: 1, users: { 'a@x.com': rec(1) } });
    serializeStore(frozen as never);
    const next = { ...frozen, users: { ...frozen.users, 'b@x.com': rec(7) } };
    expect(serializeStore(next as never).toString('utf8')).toBe(`${JSON.stringify(next, null, 2)}\n`);
  });

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
    expect(err.message).toMatch(/invalid JSON at line 1, column \d+: unexpected end of the file/);
  });

  it('rejects an empty file, a BOM, NUL bytes and invalid UTF-8', () => {
    expect(fail('').message).toMatch(/empty/);
    expect(fail(Buffer.from('\ufeff{"version":1,"users":{}}')).message).toMatch(/byte order mark/);
    expect(fail(Buffer.from([0x7b, 0x00, 0x7d])).message).toMatch(/NUL byte at position 1/);
    expect(fail(Buffer.from([0xff, 0xfe, 0x00])).message).toMatch(/not UTF-8/);
    // Latin-1 bytes that are not UTF-8 (the ASCII fast path must not accept them as text).
    expect(fail(Buffer.from([0x7b, 0xe9, 0x7d])).message).toMatch(/not UTF-8/);
    // After a multi-byte character the position counts characters, not bytes.
    expect(fail(Buffer.from('{"\u00e9\u0000"}')).message).toMatch(/NUL byte at position 3/);
  });

  it('reads ASCII and non-ASCII stores alike (names with accents, emoji, CJK)', () => {
    const name = 'Ren\u00e9e \u{1F4C1} \u65e5\u672c';
    const text = `${JSON.stringify({ version: 1, users: {}, note: name }, null, 2)}\n`;
    expect(parseStoreBytes(Buffer.from(text), path)).toMatchObject({ note: name });
    expect(parseStoreBytes(new Uint8Array(Buffer.from(text)), path)).toMatchObject({ note: name });
  });

  it('rejects wrong shapes and unknown versions', () => {
    expect(fail('[]').message).toMatch(/expected a JSON object/);
    expect(fail('{"users": {}}').message).toMatch(/no "version"/);
    const v2 = fail('{"version": 2, "users": {}}');
    expect(v2.code).toBe('E_STORE_VERSION');
    expect(fail('{"version": "1", "users": {}}').code).toBe('E_STORE_VERSION');
    expect(fail('{"version": 1, "users": null}').message).toMatch(/"users" must be an object/);
    expect(fail('{"version": 1, "users": {"a@x.com": "tok"}}').message).toMatch(/must be an object/);
    expect(fail('{"version": 1, "users": {"a@x.com": {"access_token": 1}}}').message).toMatch(
      /access_token must be a string/,
    );
    expect(fail('{"version": 1, "users": {"not-an-email": {}}}').message).toMatch(/not an email/);
  });

  it('rejects a record whose expiry is not a timestamp', () => {
    const rec = {
      access_token: 'a',
      refresh_token: 'r',
      access_token_expires_at: 'soon',
      connected_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
    };
    expect(fail(JSON.stringify({ version: 1, users: { 'a@x.com': rec } })).message).toMatch(
      /access_token_expires_at is not an ISO-8601/,
    );
  });

  it('enforces every record rule, each with a message naming the field', () => {
    const ok = {
      access_token: 'a',
      refresh_token: 'r',
      access_token_expires_at: '2026-01-01T00:00:00Z',
      connected_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      refresh_token_issued_at: '2026-01-01T00:00:00Z',
      box_user_id: '1',
      box_user_login: 'a@x.com',
      box_user_name: 'A',
      generation: 3,
      needs_reconnect: null,
      refresh_in_flight: { pid: 1 },
    };
    const parse = (rec: Record<string, unknown>) =>
      parseStoreBytes(Buffer.from(JSON.stringify({ version: 1, users: { 'a@x.com': rec } })), path);
    // null bookkeeping objects read as absent (review-2 finding 6).
    const { needs_reconnect: _null, ...okRead } = ok;
    expect(parse(ok).users['a@x.com']).toStrictEqual(okRead);
    const broken: Array<[Record<string, unknown>, RegExp]> = [
      ...['access_token', 'refresh_token', 'access_token_expires_at', 'connected_at', 'updated_at'].flatMap(
        (f): Array<[Record<string, unknown>, RegExp]> => [
          [{ ...ok, [f]: undefined }, new RegExp(`${f} must be a string`)],
          [{ ...ok, [f]: 7 }, new RegExp(`${f} must be a string`)],
        ],
      ),
      ...['box_user_id', 'box_user_login', 'box_user_name', 'refresh_token_issued_at'].map(
        (f): [Record<string, unknown>, RegExp] => [{ ...ok, [f]: 7 }, new RegExp(`${f} must be a string`)],
      ),
      ...['access_token_expires_at', 'connected_at', 'updated_at', 'refresh_token_issued_at'].map(
        (f): [Record<string, unknown>, RegExp] => [{ ...ok, [f]: 'tomorrow' }, new RegExp(`${f} is not an ISO-8601`)],
      ),
      [{ ...ok, generation: -1 }, /generation must be a non-negative integer/],
      [{ ...ok, generation: 1.5 }, /generation must be a non-negative integer/],
      [{ ...ok, generation: '3' }, /generation must be a non-negative integer/],
      [{ ...ok, needs_reconnect: 'yes' }, /needs_reconnect must be an object/],
      [{ ...ok, refresh_in_flight: [1] }, /refresh_in_flight must be an object/],
    ];
    for (const [rec, message] of broken) {
      expect(() => parse(rec), JSON.stringify(rec)).toThrow(message);
    }
  });

  it('a frozen record is checked once; a frozen invalid one is refused every time', () => {
    const good = Object.freeze({
      access_token: 'a',
      refresh_token: 'r',
      access_token_expires_at: '2026-01-01T00:00:00Z',
      connected_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
    });
    const bad = Object.freeze({ ...good, updated_at: 'never' });
    for (let i = 0; i < 2; i++) {
      expect(validateDocument({ version: 1, users: { 'a@x.com': good } }, path).users['a@x.com']).toBe(good);
      expect(() => validateDocument({ version: 1, users: { 'a@x.com': bad } }, path)).toThrow(
        /updated_at is not an ISO-8601/,
      );
    }
  });

  it('normalises email keys and refuses two keys that collide', () => {
    const rec = {
      access_token: 'a',
      refresh_token: 'r',
      access_token_expires_at: '2026-01-01T00:00:00Z',
      connected_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
    };
    const doc = parseStoreBytes(Buffer.from(JSON.stringify({ version: 1, users: { ' Bob@X.com ': rec } })), path);
    expect(Object.keys(doc.users)).toEqual(['bob@x.com']);
    expect(fail(JSON.stringify({ version: 1, users: { 'bob@x.com': rec, 'BOB@x.com': rec } })).message).toMatch(
      /same email/,
    );
  });
});

describe('null bookkeeping objects (review-2 finding 6)', () => {
  it('refresh_in_flight: null and needs_reconnect: null read as absent; every other field, unknown ones included, is kept', () => {
    const rec = {
      access_token: 'a',
      refresh_token: 'r',
      access_token_expires_at: '2026-01-01T00:00:00Z',
      connected_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      box_user_id: null,
      refresh_in_flight: null,
      needs_reconnect: null,
      extra: { n: null },
    };
    const doc = parseStoreBytes(
      Buffer.from(JSON.stringify({ version: 1, users: { 'a@x.com': rec, 'B@x.com': rec } })),
      '/x/tokens.json',
    );
    for (const u of Object.values(doc.users)) {
      expect('refresh_in_flight' in u || 'needs_reconnect' in u).toBe(false);
      expect(u).toMatchObject({ box_user_id: null, extra: { n: null } });
    }
  });
});
