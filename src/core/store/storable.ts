/**
 * What a store may hold, checked on every record a mutation writes (issue 15 review finding 2), so that a
 * record a backend would refuse fails its own caller alone, before the batch's write.
 *
 * Both backends: a record validateUser accepts (the read rule: a timestamp past year 9999, which an absurd
 * expires_in gives, is refused here rather than leaving a store no reader accepts).
 * PostgreSQL only (`jsonb`): no U+0000 (SQLSTATE 22P05) and no lone UTF-16 surrogate (22P02) in any string.
 * The file store takes both: JSON.stringify escapes them (`\u0000`, `\ud800`, ASCII), JSON.parse gives back
 * the exact string, and the backend's json module reads the escapes too. Refusing them there would turn a
 * rotated refresh token that can be saved exactly into a lost one; such a record cannot be moved to
 * PostgreSQL (`store migrate` names it), which is the lesser harm.
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

/** Throws UnstorableRecordError unless `record` may be written under `key` (`jsonb`: on PostgreSQL). */
export function checkStorableRecord(record: unknown, key: string, location: string, jsonb: boolean): void {
  const email = problem(key) ? 'a user' : key;
  const fail = (what: string) => new UnstorableRecordError(location, email, what);
  if (jsonb && problem(key)) throw fail(`the email ${problem(key)!}`);
  if (!key.includes('@') || normalizeStoreEmail(key) !== key) throw fail('the key is not a normalised email');
  validateUser(record, key, location, fail);
  const p = jsonb ? findUnstorable(record as Record<string, unknown>) : undefined;
  if (p) throw fail(`${p}, which PostgreSQL cannot store`);
}

/** The same for a top-level field of the document (anything beside "version" and "users"). */
export function checkStorableField(name: string, value: unknown, location: string, jsonb: boolean): void {
  const p = jsonb ? findUnstorable({ [name]: value }) : undefined;
  if (p)
    throw new StoreError(
      'E_STORE_UNSTORABLE',
      location,
      `refusing to save the store: the top-level field ${p}, which PostgreSQL cannot store`,
    );
}
