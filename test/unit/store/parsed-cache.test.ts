/** store/file/parsed-cache.ts: a document is kept only for bytes parsed twice, and what it hands out is frozen. */
import { describe, expect, it } from 'vitest';
import { ParsedCache } from '../../../src/core/store/file/parsed-cache.js';
import { deepFreeze } from '../../../src/core/store/document-copy.js';
import { applyBatch, type PendingUpdate } from '../../../src/core/store/group-commit.js';
import type { StoreDocument } from '../../../src/core/store/types.js';

// A valid record: applyBatch checks every record a mutation writes (issue 15 review finding 2).
const T = '2026-01-01T00:00:00Z';
const doc = (token: string): StoreDocument =>
  ({
    version: 1,
    users: {
      'a@x.com': {
        access_token: token,
        refresh_token: 'r',
        access_token_expires_at: T,
        connected_at: T,
        updated_at: T,
        needs_reconnect: { reason: 'r' },
      },
    },
  }) as unknown as StoreDocument;

const pending = (mutate: (d: StoreDocument) => unknown): PendingUpdate => ({
  mutate,
  resolve() {},
  reject() {},
  options: undefined,
});

describe('ParsedCache', () => {
  it('keeps nothing after one parse (a run that reads once never pays), the document after the second', () => {
    const cache = new ParsedCache();
    const once = doc('t1');
    expect(cache.parsed(Buffer.from('one'), once)).toBe(once);
    expect(Object.isFrozen(once)).toBe(false);
    expect(cache.get(Buffer.from('one'))).toBeUndefined();
    const twice = doc('t1');
    cache.parsed(Buffer.from('one'), twice);
    expect(cache.get(Buffer.from('one'))).toBe(twice);
    expect(cache.get(Buffer.from('two'))).toBeUndefined();
  });

  it('hands out a deep-frozen document: a reader cannot change what the next one sees', () => {
    const cache = new ParsedCache();
    cache.set(Buffer.from('b'), doc('t'));
    const d = cache.get(Buffer.from('b'))!;
    expect(() => {
      d.users['a@x.com']!.access_token = 'x';
    }).toThrow(TypeError);
    expect(() => {
      (d.users['a@x.com']!.needs_reconnect as { reason: string }).reason = 'x';
    }).toThrow(TypeError);
    expect(() => {
      delete d.users['a@x.com'];
    }).toThrow(TypeError);
    expect(cache.get(Buffer.from('b'))!.users['a@x.com']).toMatchObject({
      access_token: 't',
      needs_reconnect: { reason: 'r' },
    });
  });

  it('deepFreeze reaches every object and array at any depth, and leaves strings and numbers be', () => {
    const doc = JSON.parse('{"a":{"b":[{"c":{"d":[1,"x",{"e":null}]}}],"s":"t","n":1},"__proto__":{"p":1}}');
    deepFreeze(doc);
    const nested = [
      doc,
      doc.a,
      doc.a.b,
      doc.a.b[0],
      doc.a.b[0].c,
      doc.a.b[0].c.d,
      doc.a.b[0].c.d[2],
      Object.getOwnPropertyDescriptor(doc, '__proto__')!.value,
    ];
    for (const o of nested) expect(Object.isFrozen(o)).toBe(true);
    expect(() => {
      doc.a.b[0].c.d[2].e = 1;
    }).toThrow(TypeError);
  });

  it('other bytes replace the entry, and are again kept only once parsed twice', () => {
    const cache = new ParsedCache();
    cache.set(Buffer.from('a'), doc('a'));
    cache.parsed(Buffer.from('b'), doc('b'));
    expect(cache.get(Buffer.from('a'))).toBeUndefined();
    expect(cache.get(Buffer.from('b'))).toBeUndefined();
    cache.parsed(Buffer.from('b'), doc('b'));
    expect(cache.get(Buffer.from('b'))?.users['a@x.com']?.access_token).toBe('b');
  });
});

describe('applyBatch', () => {
  it('applies every mutation to one copy of a frozen snapshot, which stays unchanged', () => {
    const cache = new ParsedCache();
    cache.set(Buffer.from('s'), doc('t'));
    const snapshot = cache.get(Buffer.from('s'))!;
    const { doc: out, outcomes } = applyBatch(snapshot, [
      pending((d) => {
        d.users['a@x.com'] = { ...d.users['a@x.com']!, access_token: 'one' };
        return 1;
      }),
      pending((d) => {
        d.users['b@x.com'] = { ...d.users['a@x.com']!, access_token: 'two' };
        return 2;
      }),
    ]);
    expect(outcomes).toEqual([
      { ok: true, value: 1 },
      { ok: true, value: 2 },
    ]);
    expect(out.users['a@x.com']!.access_token).toBe('one');
    expect(out.users['b@x.com']!.access_token).toBe('two');
    expect(snapshot.users['a@x.com']!.access_token).toBe('t');
    expect(Object.keys(snapshot.users)).toEqual(['a@x.com']);
  });

  it('undoes a mutation that throws half-way alone: the others run again on a fresh copy, in order', () => {
    const calls: string[] = [];
    const append = (d: StoreDocument, s: string) => {
      d.users['a@x.com'] = { ...d.users['a@x.com']!, access_token: d.users['a@x.com']!.access_token + s };
    };
    const input = doc('t');
    const { doc: out, outcomes } = applyBatch(input, [
      // Changing a record of the snapshot in place fails (it is frozen); the batch's own new records are its own.
      pending((d) => {
        calls.push('in place');
        d.users['a@x.com']!.access_token = 'x';
      }),
      pending((d) => {
        calls.push('a');
        append(d, '+a');
      }),
      pending((d) => {
        calls.push('bad');
        append(d, '+half-done');
        d.users['z@x.com'] = d.users['a@x.com']!;
        throw new Error('boom');
      }),
      pending((d) => {
        calls.push('c');
        append(d, '+c');
      }),
    ]);
    expect(outcomes[0]).toMatchObject({ ok: false, error: expect.any(TypeError) });
    expect(Object.keys(out.users)).toEqual(['a@x.com']);
    expect(input.users['a@x.com']!.access_token).toBe('t');
    expect(out.users['a@x.com']!.access_token).toBe('t+a+c');
    expect(outcomes[2]).toMatchObject({ ok: false, error: { message: 'boom' } });
    expect(calls).toEqual(['in place', 'a', 'bad', 'a', 'c']);
  });
});
