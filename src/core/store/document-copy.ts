/**
 * Freezing and copying parsed store documents, shared by both backends: a document handed out from a cache is
 * frozen so no reader can change what the next one sees, and a commit works on a copy.
 */
import type { StoreDocument } from './types.js';

/**
 * Freezes a parsed JSON value and everything in it. Recurses only into objects: a record is mostly strings, and
 * a call per string made freezing 10,000 users cost half as much as parsing them (issue 8; now ~2x cheaper).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i]!];
    if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return value;
}

/** Deep copy of a parsed store document; records by spread (4x faster than the generic walk on 1,000 users). */
export function copyDocument(doc: StoreDocument): StoreDocument {
  const users: StoreDocument['users'] = {};
  const from = doc.users;
  for (const key of Object.keys(from)) {
    const rec = { ...from[key]! };
    for (const field of Object.keys(rec))
      if (typeof rec[field] === 'object' && rec[field] !== null) rec[field] = copyJson(rec[field]);
    users[key] = rec;
  }
  const out: StoreDocument = { ...doc, users };
  for (const field of Object.keys(out))
    if (field !== 'users' && typeof out[field] === 'object' && out[field] !== null) out[field] = copyJson(out[field]);
  return out;
}

/** Deep copy of a JSON value (what JSON.parse returns): plain objects, arrays and primitives only. */
export function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = copyJson((value as Record<string, unknown>)[key]);
    // JSON.parse makes "__proto__" an own property; a plain assignment would set the prototype instead.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out as T;
}
