/**
 * The `box_tokens.json` format (version 1), shared with the Python QC backend (issue 3): strict parsing,
 * serialisation, timestamps and email keys. Pure: no I/O.
 *
 * Strict means: a missing file is "no users" (handled by the reader), but anything that is not exactly a
 * version-1 document is a StoreError naming the path and what is wrong (go-gh InvalidConfigFileError,
 * reliability.md F16): never "empty", never rewritten.
 */
import { isAscii } from 'node:buffer';
import { StoreError } from '../../errors.js';
import { deepFreeze } from './document-copy.js';
import { findJsonError } from './json-position.js';
import { inviteProblem, invitesProblem } from '../invites/invite-format.js';
import type { StoreDocument, StoredUser } from './types.js';

export const STORE_FORMAT_VERSION = 1;

/** Required string fields of a user record (the backend's reader needs them all). */
const REQUIRED_USER_STRINGS = [
  'access_token',
  'refresh_token',
  'access_token_expires_at',
  'connected_at',
  'updated_at',
] as const;
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
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
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

/**
 * Fast path for the shape box-qc itself writes, `YYYY-MM-DDTHH:MM:SSZ` (years 1970-9999): a store of 10,000
 * users holds 40,000 timestamps and every read validates them all, in code that has not warmed up yet (issue 8,
 * store scale). One regular expression (compiled to native code by V8) checks the shape and every range but the
 * day of a short month, which is checked only for days 29-31. Same answers as the general path; anything else
 * falls through to it.
 */
const CANONICAL_RE =
  /^(?:19[7-9]\d|[2-9]\d{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$/;

/** Whether `v` is a timestamp already in the form formatTimestamp writes (`2026-11-26T16:00:00Z`). */
export function isCanonicalTimestamp(v: unknown): v is string {
  return typeof v === 'string' && isCanonical(v);
}

function isCanonical(v: string): boolean {
  if (!CANONICAL_RE.test(v)) return false;
  if (v.charCodeAt(8) < 50 || (v.charCodeAt(8) === 50 && v.charCodeAt(9) < 57)) return true; // day 01-28
  const y = Number(v.slice(0, 4));
  const mo = Number(v.slice(5, 7));
  const d = Number(v.slice(8, 10));
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}

function parseCanonical(v: string): number | undefined {
  if (!isCanonical(v)) return undefined;
  const n = (i: number) => (v.charCodeAt(i) - 48) * 10 + v.charCodeAt(i + 1) - 48;
  return Date.UTC(n(0) * 100 + n(2), n(5) - 1, n(8), n(11), n(14), n(17));
}

/** Whether parseTimestamp would accept the value, without computing it (validation of every read). */
export function isTimestamp(value: unknown): boolean {
  return typeof value === 'string' && (isCanonical(value) || parseTimestamp(value) !== undefined);
}

/**
 * ISO-8601 UTC with `Z`, whole seconds (the backend's own shape: `2026-11-26T16:00:00Z`). Arithmetic rather
 * than a Date and a regular expression: `status` formats three per user, 30,000 for a 10,000-user store
 * (issue 8). Years outside 1000-9999 (never a real token time) go the Date way.
 */
export function formatTimestamp(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86_400);
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (!(year >= 1000 && year <= 9999)) return new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const inDay = secs - days * 86_400;
  const hour = Math.floor(inDay / 3600);
  const minute = Math.floor((inDay - hour * 3600) / 60);
  return `${year}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(inDay - hour * 3600 - minute * 60)}Z`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

export function emptyDocument(): StoreDocument {
  return { version: 1, users: {} };
}

/**
 * The exact bytes box-qc writes: 2-space JSON and a final newline, like the backend's json.dump(indent=2).
 * (Assembling the text a user at a time from per-record memos was measured: slower than one native stringify.)
 */
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

/** Decodes, parses and validates the raw bytes; every failure names the position where it could be found. */
export function parseStoreBytes(bytes: Uint8Array, path: string): StoreDocument {
  return validateDocument(parseStoreJson(bytes, path), path);
}

/** Decodes and parses the raw bytes as JSON, not validated yet; every failure names its position. */
export function parseStoreJson(bytes: Uint8Array, path: string): unknown {
  if (bytes.length === 0) throw corrupt(path, 'the file is empty (0 bytes)');
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw corrupt(path, 'starts with a UTF-8 byte order mark (BOM), which the backend cannot read');
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text: string;
  // A store box-qc wrote is ASCII unless a name is not: checking that (SIMD) and decoding as latin1 takes a
  // fraction of a strict UTF-8 decode, and gives the same string (issue 8: a 10,000-user store is 5.5 MB).
  if (isAscii(buf)) text = buf.toString('latin1');
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      throw corrupt(path, 'not UTF-8 text (binary data?)');
    }
  }
  // memchr on the bytes; the position reported is the character's, as a reader of the text counts.
  if (buf.indexOf(0) >= 0) throw corrupt(path, `binary data (NUL byte at position ${text.indexOf('\u0000')})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never V8's message: it quotes up to 10 characters of the file, which in a token store can be a token
    // (issue 15 item 9). Line and column only.
    const at = findJsonError(text);
    const where = at ? `at line ${at.line}, column ${at.column}: ${at.problem}` : 'at an unknown position';
    throw corrupt(path, `invalid JSON ${where} (file is ${bytes.length} bytes)`);
  }
  return parsed;
}

/** The checks of everything but the user records: top level, version, the users map, invites. */
function validateTopLevel(
  parsed: unknown,
  path: string,
): asserts parsed is Record<string, unknown> & {
  users: Record<string, unknown>;
} {
  if (!isPlainObject(parsed)) throw corrupt(path, `expected a JSON object at the top level, found ${describe(parsed)}`);
  if (!('version' in parsed)) throw corrupt(path, 'no "version" field');
  if (parsed.version !== STORE_FORMAT_VERSION) {
    throw new StoreError(
      'E_STORE_VERSION',
      path,
      `token store ${path} has unsupported version ${describeVersion(parsed.version)} (box-qc reads version 1)`,
      {
        hint: 'a newer tool wrote this file: upgrade box-qc; the file was not changed',
      },
    );
  }
  if (!isPlainObject(parsed.users)) throw corrupt(path, `"users" must be an object, found ${describe(parsed.users)}`);
  // Issue 17: invite records beside the users (the seed's backend ignores the field).
  if (parsed.invites !== undefined) {
    const problem = invitesProblem(parsed.invites, isTimestamp);
    if (problem !== undefined) throw corrupt(path, problem);
  }
}

/**
 * The problem of one invite record a commit changed (invite number `n` of its map), as validateDocument would
 * report it, or undefined: a splice commit checks only the invites it rewrites (file-store.ts).
 */
export function changedInviteProblem(n: number, hash: string, record: unknown): string | undefined {
  return inviteProblem(n, hash, record, isTimestamp);
}

/**
 * Users maps whose keys are exactly the keys of the file they came from, as JSON.parse gave them: no key was
 * normalised (trimmed or lowercased) on the way. A splice that finds records by their key text alone relies
 * on it (record-layout.ts findMembers); the maps of splice commits keep it (their keys are not changed).
 */
const keyedAsInFile = new WeakSet<object>();

/** Whether `users` is keyed exactly as the "users" object of the file it was read from. */
export function isKeyedAsInFile(users: object): boolean {
  return keyedAsInFile.has(users);
}

/** Marks `users` keyed as its file is (a splice commit's result, which kept its base's keys). */
export function markKeyedAsInFile(users: object): void {
  keyedAsInFile.add(users);
}

/** Narrows parsed JSON into a StoreDocument or throws a StoreError naming the first problem. */
export function validateDocument(parsed: unknown, path: string): StoreDocument {
  validateTopLevel(parsed, path);
  const raw = parsed.users;
  // Keys box-qc wrote are already normalised: then the parsed map is kept as it is (building a second
  // 10,000-key map was a fifth of reading a big store, issue 8) and no two keys can collide.
  let users: Record<string, StoredUser> | undefined;
  let renamed = false;
  const keys = Object.keys(raw);
  for (let n = 0; n < keys.length; n++) {
    const rawKey = keys[n]!;
    const key = normalizeStoreEmail(rawKey);
    if (key !== rawKey) renamed = true;
    // Not quoted: a key that is no email could be anything pasted there, a token included (issue 15 item 9).
    if (!key.includes('@')) throw corrupt(path, `user key number ${n + 1} in "users" is not an email`);
    const record = validateUser(raw[rawKey], key, path);
    // A key to normalise, or a frozen record copied to drop its nulls (validateUser): a map of our own.
    if (users === undefined && (key !== rawKey || record !== raw[rawKey])) users = copyUntil(raw, rawKey);
    if (users !== undefined) {
      if (Object.hasOwn(users, key))
        throw corrupt(path, `two user entries normalise to the same email ${JSON.stringify(key)}`);
      users[key] = record;
    }
  }
  const map = users ?? (raw as Record<string, StoredUser>);
  if (!renamed) keyedAsInFile.add(map);
  return { ...parsed, version: 1, users: map };
}

/**
 * One user's slice of parsed store JSON for a display-only read (ReadUserOptions, issue 20): the top level
 * validated as validateDocument does, every key checked (an email, no two normalising to `email`), and only
 * `email`'s own record validated; the other records are not looked at, as the PostgreSQL store reads one row.
 * The slice is frozen: its record and top-level fields are shared with the cached JSON (parsed-cache.ts) that
 * the next read validates whole. Every other read and every update() validates every record.
 */
export function sliceUser(parsed: unknown, email: string, path: string): StoreDocument {
  validateTopLevel(parsed, path);
  const raw = parsed.users;
  let found: StoredUser | undefined;
  const keys = Object.keys(raw);
  for (let n = 0; n < keys.length; n++) {
    const rawKey = keys[n]!;
    const key = rawKey === email ? rawKey : normalizeStoreEmail(rawKey);
    if (!key.includes('@')) throw corrupt(path, `user key number ${n + 1} in "users" is not an email`);
    if (key !== email) continue;
    if (found !== undefined) throw corrupt(path, `two user entries normalise to the same email ${JSON.stringify(key)}`);
    found = validateUser(raw[rawKey], key, path);
  }
  return frozenSlice(parsed, email, found === undefined ? undefined : deepFreeze(found));
}

/** The slice itself: `record` (frozen by the caller) under `email`, beside the frozen top-level fields. */
function frozenSlice(doc: Record<string, unknown>, email: string, record: StoredUser | undefined): StoreDocument {
  const slice: StoreDocument = {
    ...topLevelFields(doc),
    version: 1,
    users: record === undefined ? {} : { [email]: record },
  };
  Object.freeze(slice.users);
  return Object.freeze(slice);
}

/**
 * Every top-level field but `users`, each deep-frozen (they are shared with the cached document). Object rest,
 * not assignment: a field named "__proto__" stays a field (JSON.parse makes it an own property; `top[k] = v`
 * would set the prototype instead).
 */
function topLevelFields(doc: Record<string, unknown>): Record<string, unknown> {
  const { users: _users, ...top } = doc;
  for (const field of Object.keys(top)) deepFreeze(top[field]);
  return top;
}

/**
 * One user's slice of a document validated whole, frozen or not (parsed-cache.ts `validated`): the record and
 * the top-level fields are frozen (the record marked valid), so nothing handed out can change the document.
 */
export function sliceValidated(doc: StoreDocument, email: string): StoreDocument {
  const record = Object.hasOwn(doc.users, email) ? doc.users[email] : undefined;
  if (record !== undefined && !Object.isFrozen(record)) validFrozen.add(deepFreeze(record));
  return frozenSlice(doc, email, record);
}

/**
 * Freezes a document that was just validated whole (a commit's checkWritable) and marks the records it freezes
 * as valid. A record already frozen was frozen when checkWritable met it, which marked it then (validateUser):
 * so a commit's result costs a look at each record, not a walk of every record's fields (issue 20).
 */
export function freezeValidated(doc: StoreDocument): StoreDocument {
  const users = doc.users;
  for (const key in users) {
    const record = users[key];
    if (typeof record !== 'object' || record === null || Object.isFrozen(record)) continue;
    validFrozen.add(deepFreeze(record));
  }
  Object.freeze(users);
  for (const field of Object.keys(doc)) if (field !== 'users') deepFreeze(doc[field]);
  return Object.freeze(doc);
}

/** Freezes one record that was just validated (a splice commit's changed records) and marks it valid. */
export function freezeValidRecord(record: StoredUser | undefined): void {
  if (typeof record === 'object' && record !== null) validFrozen.add(deepFreeze(record));
}

/**
 * Marks the records of a validated, frozen document as valid (validFrozen): a commit built on it then checks
 * only the records its mutations wrote (checkWritable), not all 10,000 again (issue 20). Returns `doc`.
 */
export function markValidFrozen(doc: StoreDocument): StoreDocument {
  const users = doc.users;
  for (const key in users) {
    const record = users[key];
    if (typeof record === 'object' && record !== null && Object.isFrozen(record)) validFrozen.add(record);
  }
  return doc;
}

/** The entries of `raw` before `stop` (all validated, all keys normalised already), in a new map. */
function copyUntil(raw: Record<string, unknown>, stop: string): Record<string, StoredUser> {
  const users: Record<string, StoredUser> = {};
  for (const k of Object.keys(raw)) {
    if (k === stop) break;
    users[k] = raw[k] as StoredUser;
  }
  return users;
}

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';
const optionalTimestamp = (v: unknown) => typeof v !== 'string' || isTimestamp(v);
const optionalObject = (v: unknown) => v === undefined || v === null || isPlainObject(v);

/**
 * Every rule of the walk in validateUser, as named property reads: V8 answers those from one inline cache for
 * records of the same shape, where the walk's record[field] is a slow keyed load. 10,000 users: ~25 ms less
 * per read (issue 8). A record that fails here goes through the walk, which names the problem.
 */
function isValidUser(r: Record<string, unknown>): boolean {
  const gen = r.generation;
  return (
    typeof r.access_token === 'string' &&
    typeof r.refresh_token === 'string' &&
    typeof r.access_token_expires_at === 'string' &&
    isTimestamp(r.access_token_expires_at) &&
    typeof r.connected_at === 'string' &&
    isTimestamp(r.connected_at) &&
    typeof r.updated_at === 'string' &&
    isTimestamp(r.updated_at) &&
    optionalString(r.box_user_id) &&
    optionalString(r.box_user_login) &&
    optionalString(r.box_user_name) &&
    optionalString(r.refresh_token_issued_at) &&
    optionalTimestamp(r.refresh_token_issued_at) &&
    (gen === undefined || (typeof gen === 'number' && Number.isSafeInteger(gen) && gen >= 0)) &&
    optionalObject(r.needs_reconnect) &&
    optionalObject(r.refresh_in_flight)
  );
}

/**
 * Records that passed and were frozen then: a frozen record cannot change, so it need not be checked again.
 * Every group commit validates the whole new document, most of it the previous commit's frozen records
 * (group-commit.ts, issue 8).
 */
const validFrozen = new WeakSet<object>();

/**
 * `fail` builds the error from the problem's description: corrupt() for a read; group-commit.ts's write check
 * passes its own (a record a mutation built is not a corrupt file).
 */
export function validateUser(
  record: unknown,
  key: string,
  path: string,
  fail: (what: string) => Error = (what) => corrupt(path, what),
): StoredUser {
  if (typeof record === 'object' && record !== null && validFrozen.has(record)) return record as StoredUser;
  if (isPlainObject(record) && isValidUser(record)) {
    const clean = withoutNullObjects(record);
    if (Object.isFrozen(clean)) validFrozen.add(clean);
    return clean as StoredUser;
  }
  const corrupt = (_path: string, what: string) => fail(what);
  const where = `users[${JSON.stringify(key)}]`;
  if (!isPlainObject(record)) throw corrupt(path, `${where} must be an object, found ${describe(record)}`);
  for (const field of REQUIRED_USER_STRINGS) {
    if (typeof record[field] !== 'string')
      throw corrupt(path, `${where}.${field} must be a string, found ${describe(record[field])}`);
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
  return withoutNullObjects(record) as StoredUser;
}

/** The optional object fields: null (a backend writing Python's None) means absent. */
const NULLABLE_OBJECTS = ['needs_reconnect', 'refresh_in_flight'] as const;

/**
 * The record with its null bookkeeping objects removed (review-2 finding 6: a null refresh_in_flight crashed
 * every refresh of its user). Callers see absent, never null; a save then writes the record without them.
 * Every other field, unknown ones included, is left exactly as it is. In place on a fresh parse; a copy
 * when the record is frozen (a cached document).
 */
function withoutNullObjects(record: Record<string, unknown>): Record<string, unknown> {
  if (record.needs_reconnect !== null && record.refresh_in_flight !== null) return record;
  const out = Object.isFrozen(record) ? { ...record } : record;
  for (const field of NULLABLE_OBJECTS) if (out[field] === null) delete out[field];
  return Object.isFrozen(record) ? Object.freeze(out) : out;
}

/** A number is shown as it is; anything else only by its type, so no file content is ever quoted. */
function describeVersion(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : describe(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v === undefined) return 'nothing';
  return `a ${typeof v}`;
}
