/**
 * The `box_tokens.json` format (version 1), shared with the Python QC backend (issue 3): strict parsing,
 * serialisation, timestamps and email keys. Pure: no I/O.
 *
 * Strict means: a missing file is "no users" (handled by the reader), but anything that is not exactly a
 * version-1 document is a StoreError naming the path and what is wrong (go-gh InvalidConfigFileError,
 * reliability.md F16): never "empty", never rewritten.
 */
import { StoreError } from '../../errors.js';
import type { StoreDocument, StoredUser } from './types.js';

export const STORE_FORMAT_VERSION = 1;

/** Required string fields of a user record (the backend's reader needs them all). */
const REQUIRED_USER_STRINGS = ['access_token', 'refresh_token', 'access_token_expires_at', 'connected_at', 'updated_at'] as const;
const OPTIONAL_USER_STRINGS = ['box_user_id', 'box_user_login', 'box_user_name', 'refresh_token_issued_at'] as const;
const TIMESTAMP_FIELDS = ['access_token_expires_at', 'connected_at', 'updated_at', 'refresh_token_issued_at'] as const;

/** Keys are emails trimmed and lower-cased (issue 3): the QC tool's identity, not the Box login. */
export function normalizeStoreEmail(email: string): string {
  return email.trim().toLowerCase();
}

// ISO-8601 as both writers produce it: `...Z` from box-qc, `.123456Z` (microseconds) or `+00:00` from Python.
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a stored timestamp into ms since the epoch, or undefined when it is not one. Fractions beyond
 * milliseconds are truncated (Python writes microseconds). A timestamp with no zone is read as UTC: Python's
 * `datetime.utcnow().isoformat()` writes exactly that.
 */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const fast = parseCanonical(value);
  if (fast !== undefined) return fast;
  const m = TIMESTAMP_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  // Date.UTC rolls over out-of-range parts (month 13, second 61): reject instead of guessing.
  const check = new Date(t);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h)
    || check.getUTCMinutes() !== Number(mi) || check.getUTCSeconds() !== Number(s)) {
    return undefined;
  }
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    t -= sign * offsetMin * 60_000;
  }
  return t;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at i..i+1 as a number, or -1. */
function digits2(v: string, i: number): number {
  const a = v.charCodeAt(i) - 48;
  const b = v.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Fast path for the shape box-qc itself writes, `YYYY-MM-DDTHH:MM:SSZ` (years 1970-9999): a store of 10,000
 * users holds 40,000 timestamps and every read validates them all (issue 8, store scale: the regex plus the
 * Date round trip were most of a read). Same answers as the general path; anything else falls through to it.
 */
function isCanonical(v: string): boolean {
  if (v.length !== 20 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84
    || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 90) return false;
  const hi = digits2(v, 0);
  const lo = digits2(v, 2);
  const mo = digits2(v, 5);
  const d = digits2(v, 8);
  const h = digits2(v, 11);
  const mi = digits2(v, 14);
  const s = digits2(v, 17);
  if (hi < 0 || lo < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return false;
  const y = hi * 100 + lo;
  if (y < 1970) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}

function parseCanonical(v: string): number | undefined {
  if (!isCanonical(v)) return undefined;
  const n = (from: number, to: number) => Number(v.slice(from, to));
  return Date.UTC(n(0, 4), n(5, 7) - 1, n(8, 10), n(11, 13), n(14, 16), n(17, 19));
}

/** Whether parseTimestamp would accept the value, without computing it (validation of every read). */
export function isTimestamp(value: unknown): boolean {
  return typeof value === 'string' && (isCanonical(value) || parseTimestamp(value) !== undefined);
}

/** ISO-8601 UTC with `Z`, whole seconds (the backend's own shape: `2026-11-26T16:00:00Z`). */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function emptyDocument(): StoreDocument {
  return { version: 1, users: {} };
}

/** The exact bytes box-qc writes: 2-space JSON and a final newline, like the backend's json.dump(indent=2). */
export function serializeStore(doc: StoreDocument): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function corrupt(path: string, what: string): StoreError {
  return new StoreError('E_STORE_CORRUPT', path, `token store ${path} is unreadable: ${what}`, {
    hint: 'box-qc never rewrites a store it cannot read: restore it from a backup, or move it aside and reconnect',
  });
}

/** Decodes and parses the raw bytes; every failure names the position where it could be found. */
export function parseStoreBytes(bytes: Uint8Array, path: string): StoreDocument {
  if (bytes.length === 0) throw corrupt(path, 'the file is empty (0 bytes)');
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw corrupt(path, 'starts with a UTF-8 byte order mark (BOM), which the backend cannot read');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw corrupt(path, 'not UTF-8 text (binary data?)');
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw corrupt(path, `binary data (NUL byte at position ${nul})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 160) : 'invalid JSON';
    throw corrupt(path, `invalid JSON (${detail}; file is ${bytes.length} bytes)`);
  }
  return validateDocument(parsed, path);
}

/** Narrows parsed JSON into a StoreDocument or throws a StoreError naming the first problem. */
export function validateDocument(parsed: unknown, path: string): StoreDocument {
  if (!isPlainObject(parsed)) throw corrupt(path, `expected a JSON object at the top level, found ${describe(parsed)}`);
  if (!('version' in parsed)) throw corrupt(path, 'no "version" field');
  if (parsed.version !== STORE_FORMAT_VERSION) {
    throw new StoreError('E_STORE_VERSION', path, `token store ${path} has unsupported version ${JSON.stringify(parsed.version)?.slice(0, 40)} (box-qc reads version 1)`, {
      hint: 'a newer tool wrote this file: upgrade box-qc; the file was not changed',
    });
  }
  if (!isPlainObject(parsed.users)) throw corrupt(path, `"users" must be an object, found ${describe(parsed.users)}`);
  const users: Record<string, StoredUser> = {};
  for (const [rawKey, record] of Object.entries(parsed.users)) {
    const key = normalizeStoreEmail(rawKey);
    if (!key.includes('@')) throw corrupt(path, `user key ${JSON.stringify(rawKey.slice(0, 80))} is not an email`);
    if (Object.hasOwn(users, key)) throw corrupt(path, `two user entries normalise to the same email ${JSON.stringify(key)}`);
    users[key] = validateUser(record, key, path);
  }
  return { ...parsed, version: 1, users };
}

function validateUser(record: unknown, key: string, path: string): StoredUser {
  const where = `users[${JSON.stringify(key)}]`;
  if (!isPlainObject(record)) throw corrupt(path, `${where} must be an object, found ${describe(record)}`);
  for (const field of REQUIRED_USER_STRINGS) {
    if (typeof record[field] !== 'string') throw corrupt(path, `${where}.${field} must be a string, found ${describe(record[field])}`);
  }
  for (const field of OPTIONAL_USER_STRINGS) {
    if (record[field] !== undefined && record[field] !== null && typeof record[field] !== 'string') {
      throw corrupt(path, `${where}.${field} must be a string, found ${describe(record[field])}`);
    }
  }
  for (const field of TIMESTAMP_FIELDS) {
    if (typeof record[field] === 'string' && !isTimestamp(record[field])) {
      throw corrupt(path, `${where}.${field} is not an ISO-8601 timestamp`);
    }
  }
  const gen = record.generation;
  if (gen !== undefined && !(typeof gen === 'number' && Number.isSafeInteger(gen) && gen >= 0)) {
    throw corrupt(path, `${where}.generation must be a non-negative integer`);
  }
  for (const field of ['needs_reconnect', 'refresh_in_flight'] as const) {
    const v = record[field];
    if (v !== undefined && v !== null && !isPlainObject(v)) throw corrupt(path, `${where}.${field} must be an object`);
  }
  return record as StoredUser;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v === undefined) return 'nothing';
  return `a ${typeof v}`;
}
