/**
 * What a store may hold, checked on every record a mutation writes (issue 15 review finding 2). One rule for
 * both backends, because `box-qc store migrate` moves records between them: a record valid for the file
 * store (validateUser) whose strings PostgreSQL's jsonb also accepts, i.e. no U+0000 (SQLSTATE 22P05) and no
 * lone UTF-16 surrogate (22P02; JSON.stringify writes one as a `\udXXX` escape the file takes but jsonb and
 * the backend's UTF-8 readers do not). Reads stay lenient: a file that already holds such a string is read
 * as before, and only a record being written is refused.
 */
import { ExitCode, StoreError } from '../../errors.js';
import { normalizeStoreEmail, validateUser } from './format.js';

/** A record a mutation built cannot be stored. Exit 1: this caller's save failed; the store is intact. */
export class UnstorableRecordError extends StoreError {
  override readonly exitCode: number = ExitCode.FAILED;
  constructor(path: string, email: string, what: string) {
    super('E_STORE_UNSTORABLE', path, `refusing to save the record for ${email}: ${what}`, {
      hint: 'the rest of the store was saved; this record was left as it was (report this: box-qc built a value the store cannot hold)',
      details: { email },
    });
  }
}

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const UNSTORABLE_RE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function problem(s: string): string | undefined {
  if (!UNSTORABLE_RE.test(s)) return undefined;
  return s.includes('\u0000') ? 'holds a NUL character (U+0000)' : 'holds a lone UTF-16 surrogate (not Unicode text)';
}

/** Whether a JSON value holds, in any key or string, something no backend can store (its problem). */
function unstorableIn(value: unknown): string | undefined {
  if (typeof value === 'string') return problem(value);
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = unstorableIn(v);
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const p = problem(k) ?? unstorableIn(v);
    if (p) return p;
  }
  return undefined;
}

/**
 * The first field of an object holding an unstorable string, as "field X holds ...". A field name is shown
 * only when it looks like one of ours: names come from the store, and could be anything pasted there.
 */
export function findUnstorable(obj: Record<string, unknown>): string | undefined {
  for (const [k, v] of Object.entries(obj)) {
    const p = problem(k) ?? unstorableIn(v);
    if (p) return `${/^[a-z][a-z0-9_]{0,40}$/.test(k) ? k : 'a field'} ${p}`;
  }
  return undefined;
}

/** Throws UnstorableRecordError unless `record` may be written under `key` on either backend. */
export function checkStorableRecord(record: unknown, key: string, location: string): void {
  const email = problem(key) ? 'a user' : key;
  const fail = (what: string) => new UnstorableRecordError(location, email, what);
  if (problem(key)) throw fail(`the email ${problem(key)!}`);
  if (!key.includes('@') || normalizeStoreEmail(key) !== key) throw fail('the key is not a normalised email');
  validateUser(record, key, location, fail);
  const p = findUnstorable(record as Record<string, unknown>);
  if (p) throw fail(p);
}

/** The same for a top-level field of the document (anything beside "version" and "users"). */
export function checkStorableField(name: string, value: unknown, location: string): void {
  const p = findUnstorable({ [name]: value });
  if (p) throw new StoreError('E_STORE_UNSTORABLE', location, `refusing to save the store: the top-level field ${p}`);
}
