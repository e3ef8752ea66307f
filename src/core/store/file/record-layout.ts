/**
 * Where each user's record sits in the store's bytes, so that a commit that changes a few records rewrites
 * the file from the old bytes with those records' text replaced (a splice), rather than serialising the
 * whole document again (issue 20: one user's refresh of a 10,000-user store made two whole-file
 * serialisations, ~40% of its time). Pure: bytes in, positions and bytes out.
 *
 * Only ever run on bytes that JSON.parse accepted (the same bytes the commit's snapshot parsed): the scan
 * then needs no error handling beyond "give up". It walks the text's structure (strings, with their escapes,
 * and bracket depth) and records, for each member of the top-level "users" object, where its value starts
 * and ends. Structural characters are ASCII and no byte of a multi-byte UTF-8 sequence is, so positions are
 * byte offsets into the file. Anything unusual (a duplicate key in "users", a second top-level "users", a
 * top level that is not an object) yields undefined, and the caller serialises the whole document.
 *
 * The replaced text is the record as serializeStore writes it at that depth (2-space JSON, indented by four
 * spaces), so a file box-qc wrote stays byte-identical to a whole serialisation of the new document. Bytes
 * outside the replaced records are kept exactly, whoever wrote them (issue 3: unknown fields are preserved).
 */

import { INVITE_HASH_RE } from '../../invites/types.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * The members of "users" in file order: member n's key token (quotes included) is [keyStarts[n], keyEnds[n]),
 * its value [starts[n], ends[n]). Keys are not decoded (10,000 decodes were a fifth of the scan): findRecord
 * looks a key up by its text.
 */
export interface RecordLayout {
  readonly keyStarts: readonly number[];
  readonly keyEnds: readonly number[];
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Key -> member, built on the first lookup of many keys at once (findRecords); a splice keeps the numbering. */
  byKey?: Map<string, number>;
  /**
   * Key -> member for the keys findRecords searched one by one (a refresh's marker, then its save: one search
   * of the file, not two). Kept through splices, as byKey is: a splice rewrites values, never keys or order.
   */
  found?: Map<string, number>;
  /**
   * Set when the arrays hold only some members, in file order (findMembers): the ones a few-key commit asked
   * for, each found by byKey. `count` is then the number of members "users" has.
   */
  partial?: { count: number };
}

class GiveUp extends Error {}

function isWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWhitespace(b: Buffer, i: number): number {
  while (isWhitespace(b[i])) i++;
  return i;
}

/**
 * `i` is at a string's opening quote: the index just past its closing quote. A loop over the bytes, not
 * Buffer#indexOf: a store's strings are short (emails, tokens, times), and ~300,000 calls into indexOf were
 * most of the scan of a 10,000-user store (issue 20). JSON.parse accepted the text, so a backslash always
 * starts an escape, and the byte after it (`"`, `\`, a letter of `\uXXXX`...) never ends the string.
 */
function endOfString(b: Buffer, i: number): number {
  const n = b.length;
  for (let j = i + 1; j < n; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  throw new GiveUp();
}

/** `i` is at the first byte of a JSON value: the index just past it. */
function endOfValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return endOfString(b, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    // A number, true, false or null: up to the next delimiter.
    for (;;) {
      const d = b[i];
      if (d === undefined || d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isWhitespace(d)) return i;
      i++;
    }
  }
  let depth = 0;
  for (;;) {
    const d = b[i];
    if (d === undefined) throw new GiveUp();
    if (d === QUOTE) {
      i = endOfString(b, i);
      continue;
    }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
}

/** Whether the string token [start, end) (quotes included) is the key `name` (as `token`), however it is spelled. */
function isKey(b: Buffer, start: number, end: number, name: string, token: Buffer): boolean {
  const text = b.subarray(start, end);
  if (text.equals(token)) return true;
  return text.includes(BACKSLASH) && JSON.parse(text.toString('utf8')) === name;
}

/** `i` is past a member's key: the index of its value's first byte. */
function valueStart(b: Buffer, i: number): number {
  i = skipWhitespace(b, i);
  if (b[i] !== COLON) throw new GiveUp();
  return skipWhitespace(b, i + 1);
}

/** `i` is past a member's value: the index of the next member's key, or of the closing brace. */
function nextMember(b: Buffer, i: number): number {
  i = skipWhitespace(b, i);
  if (b[i] === COMMA) return skipWhitespace(b, i + 1);
  if (b[i] !== CLOSE_BRACE) throw new GiveUp();
  return i;
}

/**
 * The members of "users" that JSON.parse took `keys` from, found without a scan of the file (issue 20: the scan
 * of a 10,000-user store was the largest part of a fresh process's first commit): a partial layout of just those
 * members (RecordLayout.partial; `count` is the number of members "users" has), or undefined, and the caller
 * scans the whole file. Only for bytes with no backslash, whose "users" keys are exactly the parsed keys
 * (`keysAsInFile`: none was normalised, format.ts). Then each key is found by its text alone:
 *
 * - the key's only spelling is JSON.stringify's, the needle: any other needs an escape, and the file has none;
 * - so the member JSON.parse kept for it has the needle as its key token, and no other member with that key
 *   exists (it would spell the needle too: JSON.parse keeps the last of duplicates);
 * - the first needle in the file, when a colon follows it, is a member key (a `"` is always a delimiter here,
 *   and an email's `@` cannot stand outside a string), of some object; its value is skipped to its end;
 * - when no needle follows that value, the member JSON.parse kept is this one: its key is a needle, not before
 *   the first, not after the value, and not inside the value (a member of "users" is not inside a record).
 *
 * Anything else (no needle, another one after the value) gives up.
 */
export function findMembers(
  bytes: Buffer,
  keys: readonly string[],
  count: number,
  keysAsInFile: boolean,
  keyRule: (key: string) => boolean = isEmailKey,
): RecordLayout | undefined {
  if (!keysAsInFile || bytes.includes(BACKSLASH)) return undefined;
  const found: { key: string; span: [number, number, number, number] }[] = [];
  try {
    for (const key of keys) {
      const needle = Buffer.from(JSON.stringify(key), 'utf8');
      const at = bytes.indexOf(needle);
      if (at < 0 || needle.includes(BACKSLASH) || !keyRule(key)) return undefined;
      const keyEnd = at + needle.length;
      const start = valueStart(bytes, keyEnd);
      if (bytes[start] !== OPEN_BRACE) return undefined;
      const end = endOfValue(bytes, start);
      if (bytes.indexOf(needle, end) >= 0) return undefined;
      found.push({ key, span: [at, keyEnd, start, end] });
    }
  } catch (err) {
    if (err instanceof GiveUp) return undefined;
    throw err;
  }
  found.sort((x, y) => x.span[0] - y.span[0]);
  return {
    keyStarts: found.map((f) => f.span[0]),
    keyEnds: found.map((f) => f.span[1]),
    starts: found.map((f) => f.span[2]),
    ends: found.map((f) => f.span[3]),
    byKey: new Map(found.map((f, n) => [f.key, n])),
    partial: { count },
  };
}

/** "users" keys: an email's `@` cannot stand outside a JSON string, so a needle holding one opens a string. */
function isEmailKey(key: string): boolean {
  return key.includes('@');
}

/**
 * "invites" keys (lowercase hex SHA-256, invites/types.ts): after a string's closing quote JSON allows only
 * whitespace or `,` `:` `]` `}`, never a hex digit, so a needle of one opens a string too. findMembers' argument
 * holds for the members of any top-level object: none of them is inside another member's value.
 */
export function isInviteKey(key: string): boolean {
  return INVITE_HASH_RE.test(key);
}

/** The layout of the "users" records in `bytes` (which JSON.parse accepted), or undefined to serialise whole. */
export function recordLayout(bytes: Buffer): RecordLayout | undefined {
  return memberLayout(bytes, 'users');
}

/**
 * The layout of the members of the top-level object `name` in `bytes` (which JSON.parse accepted), as
 * recordLayout gives for "users" (the file store's splice of invite records: `invites`), or undefined.
 */
export function memberLayout(bytes: Buffer, name: string): RecordLayout | undefined {
  try {
    return scan(bytes, name, Buffer.from(JSON.stringify(name), 'utf8'));
  } catch (err) {
    if (err instanceof GiveUp) return undefined;
    throw err;
  }
}

function scan(b: Buffer, name: string, token: Buffer): RecordLayout | undefined {
  let i = skipWhitespace(b, 0);
  if (b[i] !== OPEN_BRACE) return undefined;
  i = skipWhitespace(b, i + 1);
  let found: RecordLayout | undefined;
  while (b[i] !== CLOSE_BRACE) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = endOfString(b, i);
    const start = valueStart(b, keyEnd);
    if (isKey(b, i, keyEnd, name, token)) {
      if (found !== undefined || b[start] !== OPEN_BRACE) return undefined;
      const members = scanMembers(b, start);
      if (members === undefined) return undefined;
      found = members.layout;
      i = nextMember(b, members.end);
    } else {
      i = nextMember(b, endOfValue(b, start));
    }
  }
  return found;
}

function scanMembers(b: Buffer, open: number): { layout: RecordLayout; end: number } | undefined {
  const keyStarts: number[] = [];
  const keyEnds: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let i = skipWhitespace(b, open + 1);
  while (b[i] !== CLOSE_BRACE) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = endOfString(b, i);
    const start = valueStart(b, keyEnd);
    const end = endOfValue(b, start);
    keyStarts.push(i);
    keyEnds.push(keyEnd);
    starts.push(start);
    ends.push(end);
    i = nextMember(b, end);
  }
  return { layout: { keyStarts, keyEnds, starts, ends }, end: i + 1 };
}

/**
 * The member of "users" whose key is written exactly as JSON.stringify writes `key`, or undefined. A key in
 * the file spelled otherwise (escapes where none are needed) is not found: the caller serialises whole. So
 * is a key that appears twice: JSON.parse keeps the last, and the caller checks that the layout has as many
 * members as the parsed map has keys (recordCount), which a duplicate breaks.
 */
export function findRecord(bytes: Buffer, layout: RecordLayout, key: string): number | undefined {
  const { keyStarts, keyEnds } = layout;
  if (keyStarts.length === 0) return undefined;
  const needle = Buffer.from(JSON.stringify(key), 'utf8');
  const last = keyEnds[keyEnds.length - 1]!;
  for (let p = bytes.indexOf(needle, keyStarts[0]); p >= 0 && p < last; p = bytes.indexOf(needle, p + 1)) {
    // The same text elsewhere (a value, a key deeper down) is not at a member's key position.
    const n = memberAt(keyStarts, p);
    if (n !== undefined && keyEnds[n]! - p === needle.length) return n;
  }
  return undefined;
}

/**
 * findRecord for each of `keys` (member numbers, undefined for one not found). A few keys: one search each. More
 * (a batch of `refresh --all`): every member's key decoded once into a map kept with the layout, a search of the
 * whole file per key being the slower way then. Keys spelled otherwise than JSON.stringify writes are left out of
 * it, as findRecord's search misses them: the map is the same answer faster, or none for a key written twice
 * (which the search finds first; a layout the caller refuses anyway, parsed-cache.ts).
 */
export function findRecords(bytes: Buffer, layout: RecordLayout, keys: readonly string[]): (number | undefined)[] {
  if (keys.length <= FEW_KEYS && layout.byKey === undefined) {
    const found = (layout.found ??= new Map<string, number>());
    return keys.map((k) => {
      if (found.has(k)) return found.get(k);
      const n = findRecord(bytes, layout, k);
      if (n !== undefined) found.set(k, n);
      return n;
    });
  }
  let byKey = layout.byKey;
  if (byKey === undefined) {
    const map = (byKey = new Map<string, number>());
    // A key written twice has no one answer (the search finds the first): such a key is found by neither
    // (review 2; the caller refuses layouts with duplicates anyway: parsed-cache.ts).
    const twice = new Set<string>();
    const note = (key: string, n: number) => {
      if (twice.has(key)) return;
      if (map.has(key)) {
        map.delete(key);
        twice.add(key);
      } else map.set(key, n);
    };
    const { keyStarts, keyEnds } = layout;
    for (let n = 0; n < keyStarts.length; n++) {
      const token = bytes.subarray(keyStarts[n], keyEnds[n]);
      if (!token.includes(BACKSLASH)) {
        // Without a backslash the token is exactly JSON.stringify of its text: JSON.parse accepted it, so it
        // holds no quote or control character, and the store's UTF-8 (decoded strictly) no lone surrogate.
        note(token.toString('utf8', 1, token.length - 1), n);
        continue;
      }
      // With escapes: only when they are the ones JSON.stringify writes, as findRecord's search requires.
      const text = token.toString('utf8');
      const key = JSON.parse(text) as string;
      if (JSON.stringify(key) === text) note(key, n);
    }
    layout.byKey = byKey;
  }
  return keys.map((k) => byKey.get(k));
}

/**
 * Where the values of `keys`, members of the top-level object `name` that JSON.parse took from `bytes` (it has
 * `count` members), sit: [start, end) each, in the order of `keys`; undefined when any cannot be vouched for.
 * Only for bytes with no backslash, so that every key's text is exactly JSON.stringify's: a few keys are found
 * alone (findMembers, whose argument `keyRule` must uphold), more (or when that gives up: the same text as a
 * deeper key before the member, say) by one scan of the file, refused when the
 * object has more members than the parse kept (a duplicate key). Nothing is kept: the file store's splice of
 * invite records (file-store.ts) asks again at each commit.
 */
export function findMemberValues(
  bytes: Buffer,
  name: string,
  keys: readonly string[],
  count: number,
  keyRule: (key: string) => boolean,
): { start: number; end: number }[] | undefined {
  if (bytes.includes(BACKSLASH) || !keys.every(keyRule)) return undefined;
  const layout =
    (keys.length <= FEW_KEYS ? findMembers(bytes, keys, count, true, keyRule) : undefined) ?? memberLayout(bytes, name);
  if (layout === undefined || recordCount(layout) !== count) return undefined;
  let byKey = layout.byKey;
  if (byKey === undefined) {
    byKey = new Map();
    for (let n = 0; n < layout.keyStarts.length; n++)
      byKey.set(bytes.toString('utf8', layout.keyStarts[n]! + 1, layout.keyEnds[n]! - 1), n);
  }
  const out: { start: number; end: number }[] = [];
  for (const key of keys) {
    const n = byKey.get(key);
    if (n === undefined || bytes[layout.starts[n]!] !== OPEN_BRACE) return undefined;
    out.push({ start: layout.starts[n]!, end: layout.ends[n]! });
  }
  return out;
}

/** Up to this many keys, a lookup searches (findRecord, findMembers) rather than mapping every member. */
export const FEW_KEYS = 4;

/** The n with keyStarts[n] === at (keyStarts ascend), or undefined. */
function memberAt(keyStarts: readonly number[], at: number): number | undefined {
  let lo = 0;
  let hi = keyStarts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = keyStarts[mid]!;
    if (v === at) return mid;
    if (v < at) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** How many members "users" has in the file. */
export function recordCount(layout: RecordLayout): number {
  return layout.partial?.count ?? layout.keyStarts.length;
}

/** A record's text as serializeStore writes it inside "users" (depth 2: four spaces before each inner line). */
export function recordText(record: unknown): string {
  return JSON.stringify(record, null, 2).replaceAll('\n', '\n    ');
}

/**
 * A store's bytes as the pieces of a splice: the old bytes' unchanged stretches (views of them) and the new
 * records' text, `length` bytes in all. A commit writes the pieces one after another rather than joining them
 * (a 5.5 MB copy, page faults and all, per commit: issue 20); the cache compares a re-read piece by piece.
 */
export interface SplicedBytes {
  readonly parts: readonly Buffer[];
  readonly length: number;
}

/** Whether `bytes` hold exactly the pieces' bytes. */
export function equalsSpliced(spliced: SplicedBytes, bytes: Buffer): boolean {
  if (bytes.length !== spliced.length) return false;
  let at = 0;
  for (const part of spliced.parts) {
    if (!part.equals(bytes.subarray(at, at + part.length))) return false;
    at += part.length;
  }
  return true;
}

/** The pieces joined into one buffer (a write without a reserved temp, tests). */
export function joinSpliced(spliced: SplicedBytes): Buffer {
  return Buffer.concat(spliced.parts, spliced.length);
}

/** A value elsewhere in the file to rewrite in the same splice: [start, end) replaced by `value`'s record text. */
export interface ValueEdit {
  readonly start: number;
  readonly end: number;
  readonly value: unknown;
}

/**
 * `bytes` with members `replace` (member index -> new record, from findRecord) rewritten, and the values `extra`
 * names (records of another top-level object, at the same depth: invite records), as pieces, with the layout of
 * the result (its members moved by every rewrite before them); `same` when every new text equals the one it
 * replaces (the file would not change). Undefined when two rewrites overlap (a caller's bug: never guessed at).
 */
export function spliceParts(
  bytes: Buffer,
  layout: RecordLayout,
  replace: ReadonlyMap<number, unknown>,
  extra: readonly ValueEdit[] = [],
): { spliced: SplicedBytes; layout: RecordLayout; same: boolean } | undefined {
  const edits: (ValueEdit & { member?: number })[] = [...replace].map(([n, value]) => ({
    start: layout.starts[n]!,
    end: layout.ends[n]!,
    value,
    member: n,
  }));
  edits.push(...extra);
  edits.sort((x, y) => x.start - y.start);
  const parts: Buffer[] = [];
  const keyStarts = layout.keyStarts.slice();
  const keyEnds = layout.keyEnds.slice();
  const starts = layout.starts.slice();
  const ends = layout.ends.slice();
  const move = (n: number, by: number) => {
    keyStarts[n] = layout.keyStarts[n]! + by;
    keyEnds[n] = layout.keyEnds[n]! + by;
    starts[n] = layout.starts[n]! + by;
    ends[n] = layout.ends[n]! + by;
  };
  let from = 0;
  let shift = 0;
  // Members before `next` are placed: moved by the rewrites before them, each once.
  let next = 0;
  let same = true;
  for (const edit of edits) {
    if (edit.start < from) return undefined;
    // Members whose key comes before this rewrite (the rewritten member's own key included) moved by the ones
    // before it.
    for (; next < keyStarts.length && layout.keyStarts[next]! < edit.start; next++) if (shift !== 0) move(next, shift);
    const text = Buffer.from(recordText(edit.value), 'utf8');
    if (same && !text.equals(bytes.subarray(edit.start, edit.end))) same = false;
    parts.push(bytes.subarray(from, edit.start), text);
    from = edit.end;
    shift += text.length - (edit.end - edit.start);
    if (edit.member !== undefined) ends[edit.member] = starts[edit.member]! + text.length;
  }
  if (shift !== 0) for (; next < keyStarts.length; next++) move(next, shift);
  parts.push(bytes.subarray(from));
  return {
    spliced: { parts, length: bytes.length + shift },
    layout: { keyStarts, keyEnds, starts, ends, byKey: layout.byKey, found: layout.found, partial: layout.partial },
    same,
  };
}

/**
 * `bytes` with members `replace` (member index -> new record, from findRecord) rewritten, and the layout of the
 * result: spliceParts joined.
 */
export function spliceRecords(
  bytes: Buffer,
  layout: RecordLayout,
  replace: ReadonlyMap<number, unknown>,
): { bytes: Buffer; layout: RecordLayout } {
  const done = spliceParts(bytes, layout, replace);
  if (done === undefined) throw new Error('overlapping rewrites');
  return { bytes: joinSpliced(done.spliced), layout: done.layout };
}
