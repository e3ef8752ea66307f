/**
 * store/file/record-layout.ts: where each user's record sits in the store's bytes, and the splice that rewrites
 * only the records a commit changed. The property that matters: for any text JSON.parse accepts, a splice
 * gives a text whose parse is the old document with exactly the replaced records changed, or the scan gives
 * up (the commit then serialises whole). Texts here are written every way a JSON writer can: box-qc's own
 * format, compact, Python's json.dump (\u escapes), CRLF, odd spacing, escapes in keys and values, braces and
 * quotes inside strings, nested objects and arrays in records, other top-level fields before and after.
 */
import { describe, expect, it } from 'vitest';
import {
  equalsSpliced,
  findMembers,
  findMemberValues,
  isInviteKey,
  memberLayout,
  findRecord,
  findRecords,
  joinSpliced,
  recordCount,
  recordLayout,
  recordText,
  spliceParts,
  spliceRecords,
} from '../../../src/core/store/file/record-layout.js';
import { serializeStore } from '../../../src/core/store/format.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { pythonStyle, record } from './store-test-kit.js';

const T = '2026-01-01T00:00:00Z';

/** Every member of "users" found, with its value's text parsing to the parsed record. */
function expectLayoutMatches(text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  const parsed = JSON.parse(text) as { users: Record<string, unknown> };
  const layout = recordLayout(bytes);
  expect(layout).toBeDefined();
  expect(recordCount(layout!)).toBe(Object.keys(parsed.users).length);
  // Many keys at once (the key map) give the same members as one search each.
  const keys = [...Object.keys(parsed.users), 'absent@x.com'];
  expect(findRecords(bytes, { ...layout! }, keys)).toEqual(keys.map((k) => findRecord(bytes, layout!, k)));
  for (const [key, value] of Object.entries(parsed.users)) {
    const n = findRecord(bytes, layout!, key);
    if (n === undefined) continue; // a key spelled with needless escapes: the commit serialises whole
    expect(JSON.parse(bytes.toString('utf8', layout!.starts[n], layout!.ends[n]))).toEqual(value);
    expect(JSON.parse(bytes.toString('utf8', layout!.keyStarts[n], layout!.keyEnds[n]))).toBe(key);
  }
}

/** Replaces `keys` and checks the result parses to the expected document, every other byte kept. */
function expectSplice(text: string, keys: string[]): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parsed = JSON.parse(text) as { users: Record<string, unknown> };
  const layout = recordLayout(bytes)!;
  const replace = new Map<number, unknown>();
  const expected = structuredClone(parsed);
  keys.forEach((key, i) => {
    const n = findRecord(bytes, layout, key)!;
    expect(n).toBeDefined();
    const next = record(1000 + i, { note: `new "${key}" {[\\]}` });
    replace.set(n, next);
    expected.users[key] = next;
  });
  findRecords(bytes, layout, [...Object.keys(parsed.users), 'a', 'b', 'c', 'd', 'e']); // builds the key map
  const out = spliceRecords(bytes, layout, replace);
  const reparsed = JSON.parse(out.bytes.toString('utf8')) as typeof parsed;
  // The key map carried over answers for the new bytes as a fresh search does.
  const all = Object.keys(parsed.users);
  expect(findRecords(out.bytes, out.layout, all)).toEqual(all.map((k) => findRecord(out.bytes, out.layout, k)));
  expect(reparsed).toEqual(expected);
  expect(Object.keys(reparsed.users)).toEqual(Object.keys(parsed.users));
  // The layout handed back is the layout of the new bytes.
  expect({ ...out.layout, byKey: undefined }).toEqual({ ...recordLayout(out.bytes), byKey: undefined });
  // Bytes before the first replaced record are the old ones.
  const first = Math.min(...[...replace.keys()].map((n) => layout.starts[n]!));
  expect(out.bytes.subarray(0, first).equals(bytes.subarray(0, first))).toBe(true);
  return out.bytes;
}

/**
 * findMembers for `keys`: undefined, or the members JSON.parse took them from, so that a splice through the
 * partial layout parses to the expected document. Where the whole scan finds a key (no duplicate, JSON.stringify's
 * spelling), both give the same member. Returns whether the members were found.
 */
function expectPartialSplice(text: string, keys: string[]): boolean {
  const bytes = Buffer.from(text, 'utf8');
  const parsed = JSON.parse(text) as { users: Record<string, unknown> };
  // What validateDocument knows (format.ts keyedAsInFile): every key as the file spells it, normalised.
  const asInFile = Object.keys(parsed.users).every((k) => k === k.trim().toLowerCase());
  const partial = findMembers(bytes, keys, Object.keys(parsed.users).length, asInFile);
  if (partial === undefined) return false;
  expect(partial.partial).toEqual({ count: Object.keys(parsed.users).length });
  const full = recordLayout(bytes);
  const replace = new Map<number, unknown>();
  const expected = structuredClone(parsed);
  const members = findRecords(bytes, partial, keys);
  keys.forEach((key, i) => {
    const n = members[i]!;
    expect(n).toBeDefined();
    expect(JSON.parse(bytes.toString('utf8', partial.keyStarts[n], partial.keyEnds[n]))).toBe(key);
    expect(JSON.parse(bytes.toString('utf8', partial.starts[n], partial.ends[n]))).toEqual(parsed.users[key]);
    if (full !== undefined && recordCount(full) === Object.keys(parsed.users).length) {
      const m = findRecord(bytes, full, key);
      if (m !== undefined)
        expect([partial.keyStarts[n], partial.keyEnds[n], partial.starts[n], partial.ends[n]]).toEqual([
          full.keyStarts[m],
          full.keyEnds[m],
          full.starts[m],
          full.ends[m],
        ]);
    }
    const next = record(2000 + i, { note: `partial "${key}" {[\\]}` });
    replace.set(n, next);
    expected.users[key] = next;
  });
  const out = spliceParts(bytes, partial, replace)!;
  const joined = joinSpliced(out.spliced);
  expect(equalsSpliced(out.spliced, joined)).toBe(true);
  expect(JSON.parse(joined.toString('utf8'))).toEqual(expected);
  // The layout handed back finds the same members in the new bytes.
  keys.forEach((key, i) => {
    const n = findRecords(joined, out.layout, [key])[0]!;
    expect(JSON.parse(joined.toString('utf8', out.layout.starts[n], out.layout.ends[n]))).toEqual(expected.users[key]);
    expect(n).toBe(members[i]);
  });
  return true;
}

describe('recordLayout and spliceRecords', () => {
  it('on a file box-qc wrote, a splice is byte-identical to serialising the new document whole', () => {
    const doc: StoreDocument = {
      version: 1,
      users: { 'a@x.com': record(1), 'b@x.com': record(2, { refresh_in_flight: { since: T } }), 'c@x.com': record(3) },
      invites: {},
    } as unknown as StoreDocument;
    const bytes = serializeStore(doc);
    const layout = recordLayout(bytes)!;
    const next = record(9, { needs_reconnect: { reason: 'x', at: T }, list: [1, { a: [] }, 'q'] });
    const b = findRecord(bytes, layout, 'b@x.com')!;
    const out = spliceRecords(bytes, layout, new Map([[b, next]]));
    expect(out.bytes.equals(serializeStore({ ...doc, users: { ...doc.users, 'b@x.com': next } }))).toBe(true);
    // A second splice, from the layout handed back, also matches.
    const a = findRecord(out.bytes, out.layout, 'a@x.com')!;
    const c = findRecord(out.bytes, out.layout, 'c@x.com')!;
    const again = spliceRecords(
      out.bytes,
      out.layout,
      new Map<number, unknown>([
        [c, record(5)],
        [a, record(4)],
      ]),
    );
    const expected = { ...doc, users: { 'a@x.com': record(4), 'b@x.com': next, 'c@x.com': record(5) } };
    expect(again.bytes.equals(serializeStore(expected as never))).toBe(true);
  });

  it('finds every record, and splices correctly, in texts written every other way', () => {
    const users = {
      'a@x.com': record(1, { box_user_name: 'Zoë "Z" {x} [y] \\ end\\', nested: { deep: [{ '}': '{' }, [], {}] } }),
      'b@x.com': record(2, { weird: '\\"', n: -1.5e3, t: true, f: false, z: null }),
      'ünï@x.com': record(3),
      'd@x.com': {},
      'e@x.com': record(5, { users: { 'a@x.com': record(99) } }),
    };
    const doc = { before: { users: { 'a@x.com': 1 } }, version: 1, users, after: ['users', { 'b@x.com': 2 }] };
    const texts = [
      serializeStore(doc as never).toString('utf8'),
      JSON.stringify(doc),
      pythonStyle(doc),
      JSON.stringify(doc, null, '\t').replace(/\n/g, '\r\n'),
      JSON.stringify(doc, null, 1).replace(/: /g, '   :  ').replace(/,\n/g, '\n ,'),
      ` \n${JSON.stringify(doc, null, 4)}\n\n `,
    ];
    for (const text of texts) {
      expectLayoutMatches(text);
      expectSplice(text, ['a@x.com']);
      expectSplice(text, ['b@x.com', 'e@x.com', 'd@x.com']);
      // Found by their text alone (findMembers), or left to the whole scan: never another member.
      for (const key of Object.keys(users)) expectPartialSplice(text, [key]);
      expectPartialSplice(text, ['b@x.com', 'e@x.com', 'd@x.com']);
    }
  });

  it('gives up on what a splice must not guess: duplicate users keys, two "users", no users object', () => {
    // A duplicate key: JSON.parse keeps the last; the member count tells the caller (file-store.ts).
    const dup = '{"version":1,"users":{"a@x.com":{"k":1},"a@x.com":{"k":2}}}';
    const layout = recordLayout(Buffer.from(dup))!;
    expect(recordCount(layout)).toBe(2);
    expect(Object.keys((JSON.parse(dup) as { users: object }).users)).toHaveLength(1);
    expect(recordLayout(Buffer.from('{"users":{},"version":1,"users":{"a@x.com":{}}}'))).toBeUndefined();
    expect(recordLayout(Buffer.from('{"u\\u0073ers":{},"users":{}}'))).toBeUndefined();
    // A duplicate key: the search finds the first, the key map none (review 2, finding 4); the caller refuses
    // such a layout anyway (its member count).
    const dupBytes = Buffer.from(dup);
    expect(findRecord(dupBytes, layout, 'a@x.com')).toBe(0);
    expect(findRecords(dupBytes, { ...layout }, ['a@x.com', 'b', 'c', 'd', 'e'])[0]).toBeUndefined();
    expect(recordLayout(Buffer.from('{"version":1,"users":[]}'))).toBeUndefined();
    expect(recordLayout(Buffer.from('{"version":1}'))).toBeUndefined();
    expect(recordLayout(Buffer.from('[1,2]'))).toBeUndefined();
    expect(recordCount(recordLayout(Buffer.from('{"users":{}}'))!)).toBe(0);
  });

  it('does not take the same text elsewhere for a key: a value, a deeper key, a key spelled with escapes', () => {
    const text = JSON.stringify({
      version: 1,
      users: {
        'b@x.com': { box_user_login: 'a@x.com', aliases: { 'a@x.com': 1 } },
        'a\\u0040x.com': record(1),
      },
    }).replace('a\\\\u0040x.com', 'a\\u0040x.com');
    const parsed = JSON.parse(text) as { users: Record<string, unknown> };
    expect(Object.keys(parsed.users)).toEqual(['b@x.com', 'a@x.com']);
    const bytes = Buffer.from(text);
    const layout = recordLayout(bytes)!;
    // "a@x.com" appears as a value and as a deeper key, and the member itself is spelled with an escape.
    expect(findRecord(bytes, layout, 'a@x.com')).toBeUndefined();
    expect(findRecord(bytes, layout, 'b@x.com')).toBe(0);
  });

  it('random documents written in random styles: every splice parses to the expected document', () => {
    // mulberry32: deterministic, and its low bits vary (an LCG's cycle through a small modulus).
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const alphabet = ['a', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'é', '\u2028', '😀', 'u'];
    const str = () => Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join('');
    const value = (depth: number): unknown => {
      switch (rand(depth > 2 ? 4 : 6)) {
        case 0:
          return str();
        case 1:
          return rand(1000) - 500;
        case 2:
          return [true, false, null][rand(3)];
        case 3:
          return str();
        case 4:
          return Array.from({ length: rand(3) }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: rand(3) }, () => [str(), value(depth + 1)]));
      }
    };
    for (let round = 0; round < 200; round++) {
      const users: Record<string, unknown> = {};
      const count = 1 + rand(6);
      for (let i = 0; i < count; i++) users[`u${i}${str().replace(/["\\]/g, '')}@x.com`] = record(i, { x: value(0) });
      const doc = { version: 1, [str()]: value(0), users, [`${str()}z`]: value(0) };
      const styles = [
        () => serializeStore(doc as never).toString('utf8'),
        () => JSON.stringify(doc),
        () => pythonStyle(doc),
        () => JSON.stringify(doc, null, rand(5)),
      ];
      const text = styles[rand(styles.length)]!();
      expectLayoutMatches(text);
      const keys = Object.keys(users).filter(() => rand(2) === 0);
      const found = keys.filter(
        (k) => findRecord(Buffer.from(text), recordLayout(Buffer.from(text))!, k) !== undefined,
      );
      if (found.length > 0) expectSplice(text, found);
      // The same keys found by their text alone: the members the whole scan finds, or none.
      const few = found.slice(0, 4);
      if (few.length > 0) expectPartialSplice(text, few);
    }
  });

  it('findMembers finds a record by its key text alone, only where nothing else can be that member', () => {
    // A store box-qc wrote: every user found, whatever its place, the login (the email) inside its own record.
    const users: Record<string, unknown> = {};
    for (let i = 0; i < 6; i++) users[`u${i}@x.com`] = record(i, { box_user_login: `u${i}@x.com` });
    const own = serializeStore({ version: 1, users, invites: {} } as never).toString('utf8');
    for (const key of Object.keys(users)) expect(expectPartialSplice(own, [key]), key).toBe(true);
    expect(expectPartialSplice(own, ['u5@x.com', 'u0@x.com', 'u3@x.com'])).toBe(true);
    const give = (text: string, key = 'a@x.com', asInFile = true) =>
      expect(findMembers(Buffer.from(text), [key], 2, asInFile), text).toBeUndefined();
    // A duplicate key (JSON.parse keeps the last): two needles, left to the whole scan (which refuses it).
    give('{"version":1,"users":{"a@x.com":{"k":1},"a@x.com":{"k":2}}}');
    // Two "users": two needles.
    give('{"users":{"a@x.com":{"k":1}},"version":1,"users":{"a@x.com":{"k":2}}}');
    // The email as another record's value, before or after: not provably not a member.
    give('{"version":1,"users":{"b@x.com":{"v":"a@x.com"},"a@x.com":{"k":1}}}');
    give('{"version":1,"users":{"a@x.com":{"k":1},"b@x.com":{"v":"a@x.com"}}}');
    // A deeper key only: its value is not the member JSON.parse kept, and the real one is spelled otherwise.
    give('{"version":1,"users":{"b@x.com":{"aliases":{"a@x.com":{}}},"A@x.com":{"k":1}}}', 'a@x.com', false);
    // Any backslash in the file: another spelling of the key is possible.
    give('{"version":1,"users":{"a@x.com":{"k":"\\n"},"a\\u0040x.com":{"k":2}}}');
    give('{"version":1,"users":{"a@x.com":{"k":"\\""}}}');
    // Keys normalised on the way in (format.ts): the file's spelling is not the needle's.
    give('{"version":1,"users":{"a@x.com":{"k":1}}}', 'a@x.com', false);
    // Not an object after the key, or no colon: not a record.
    give('{"version":1,"list":["a@x.com"],"users":{"a@x.com":{"k":1}}}');
    give('{"version":1,"users":{"a@x.com":[1]}}');
    expect(findMembers(Buffer.from('{"version":1,"users":{"a@x.com":{"k":1}}}'), ['a@x.com'], 1, true)).toMatchObject({
      keyStarts: [22],
      keyEnds: [31],
      starts: [32],
      ends: [39],
      partial: { count: 1 },
    });
  });

  it('writes a record as serializeStore does inside users: two-space JSON, four spaces deeper', () => {
    const doc = { version: 1, users: { 'a@x.com': record(1, { n: { m: [1, 2] } }) } };
    const whole = serializeStore(doc as never).toString('utf8');
    expect(whole).toContain(`"a@x.com": ${recordText(doc.users['a@x.com'])}\n  }`);
  });
});

describe('findMemberValues and spliceParts with other values (invite records, issue 17)', () => {
  const hex = (i: number) => i.toString(16).padStart(64, '0');
  const invite = (i: number, extra: Record<string, unknown> = {}) => ({
    email: `u${i}@x.com`,
    state: 'pending',
    ...extra,
  });
  function doc(n: number, invitesFirst: boolean) {
    const users: Record<string, unknown> = {};
    const invites: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      users[`u${i}@x.com`] = record(i);
      // A decoy: another invite's hash as a deeper key inside a record is not that member.
      invites[hex(i)] = invite(i, i === 0 ? { note: { [hex(1)]: { fake: true } } } : {});
    }
    return invitesFirst ? { version: 1, invites, users, tail: 'x' } : { version: 1, users, invites, tail: 'x' };
  }

  for (const invitesFirst of [false, true])
    for (const keys of [[3], [1, 7, 2], [0, 1, 2, 3, 4, 5, 9]])
      it(`rewrites invites ${keys.join(',')} and users beside them (${invitesFirst ? 'invites first' : 'users first'}), every other byte kept`, () => {
        const parsed = doc(10, invitesFirst);
        for (const text of [
          JSON.stringify(parsed, null, 4),
          JSON.stringify(parsed),
          serializeStore(parsed as never).toString('utf8'),
        ]) {
          const bytes = Buffer.from(text, 'utf8');
          const hashes = keys.map(hex);
          const spans = findMemberValues(bytes, 'invites', hashes, 10, isInviteKey)!;
          expect(spans).toBeDefined();
          spans.forEach((sp, i) =>
            expect(JSON.parse(text.slice(sp.start, sp.end))).toEqual(parsed.invites[hashes[i]!]),
          );
          const layout = recordLayout(bytes)!;
          const expected = structuredClone(parsed) as typeof parsed & {
            users: Record<string, unknown>;
            invites: Record<string, unknown>;
          };
          const replace = new Map<number, unknown>();
          for (const u of ['u2@x.com', 'u8@x.com']) {
            const next = record(500, { note: `"${u}"` });
            replace.set(findRecord(bytes, layout, u)!, next);
            expected.users[u] = next;
          }
          const extra = hashes.map((h, i) => {
            const next = invite(i, { state: 'used', spent_states: ['a'.repeat(i * 7)] });
            expected.invites[h] = next;
            return { ...spans[i]!, value: next };
          });
          const out = spliceParts(bytes, layout, replace, extra)!;
          const joined = joinSpliced(out.spliced);
          expect(JSON.parse(joined.toString('utf8'))).toEqual(expected);
          expect(Object.keys(JSON.parse(joined.toString('utf8')))).toEqual(Object.keys(parsed));
          // The users layout handed back is the new bytes' layout: the invites' rewrites moved it.
          expect({ ...out.layout, byKey: undefined, found: undefined }).toEqual({
            ...recordLayout(joined),
            byKey: undefined,
            found: undefined,
          });
          // A file box-qc wrote stays a whole serialisation.
          if (text.endsWith('\n')) expect(joined.equals(serializeStore(expected as never))).toBe(true);
          expect(memberLayout(joined, 'invites')!.keyStarts.length).toBe(10);
        }
      });

  it('vouches for nothing it cannot: a duplicated key, a backslash anywhere, a key that breaks the rule, a missing key', () => {
    const parsed = doc(6, false);
    const text = JSON.stringify(parsed, null, 2);
    const bytes = Buffer.from(text, 'utf8');
    // The same hash twice in "invites" (JSON.parse keeps the last): few keys and many.
    const dup = text.replace(`"${hex(5)}": {`, `"${hex(4)}": {`);
    const count = Object.keys(JSON.parse(dup).invites).length;
    expect(findMemberValues(Buffer.from(dup), 'invites', [hex(4)], count, isInviteKey)).toBeUndefined();
    expect(findMemberValues(Buffer.from(dup), 'invites', [0, 1, 2, 3, 4].map(hex), count, isInviteKey)).toBeUndefined();
    const escaped = text.replace('"tail": "x"', '"tail": "\\u0078"');
    expect(JSON.parse(escaped).tail).toBe('x');
    expect(findMemberValues(Buffer.from(escaped), 'invites', [hex(1)], 6, isInviteKey)).toBeUndefined();
    expect(findMemberValues(bytes, 'invites', ['not-a-hash'], 6, isInviteKey)).toBeUndefined();
    expect(findMemberValues(bytes, 'invites', [hex(77)], 6, isInviteKey)).toBeUndefined();
    expect(findMemberValues(bytes, 'invites', [0, 1, 2, 3, 4, 77].map(hex), 6, isInviteKey)).toBeUndefined();
    // Two rewrites of one span are refused, never guessed at.
    const layout = recordLayout(bytes)!;
    const sp = findMemberValues(bytes, 'invites', [hex(2)], 6, isInviteKey)![0]!;
    expect(
      spliceParts(bytes, layout, new Map(), [
        { ...sp, value: 1 },
        { ...sp, value: 2 },
      ]),
    ).toBeUndefined();
  });
});
