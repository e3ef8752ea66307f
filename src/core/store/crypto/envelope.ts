/**
 * The stored form of an encrypted token (issue 19), parsed without loading any crypto, so that `status` and
 * every reader can say which key a value is under without a key or node:crypto:
 *
 *   enc:v1:<key-id>:<base64url(iv(12) | ciphertext | tag(16))>
 *
 * A value starting with `enc:` is taken as encrypted (OAuth tokens hold no `:`; Box's are 32 alphanumerics);
 * an empty value (an answer that lacked an access token) is never encrypted: it carries no secret and the
 * refresh protocol tests for it.
 */

export const ENC_PREFIX = 'enc:v1:';

/** The token fields that are encrypted: the record's pair and a fenced-out pair set aside beside it. */
export const TOKEN_PATHS = [
  ['access_token'],
  ['refresh_token'],
  ['refresh_fenced_out', 'access_token'],
  ['refresh_fenced_out', 'refresh_token'],
] as const;

export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('enc:');
}

export interface Envelope {
  keyId: string;
  /** base64url of iv | ciphertext | tag. */
  body: string;
}

/** undefined: not an enc:v1 value (an unknown version, a missing part). */
export function parseEnvelope(value: string): Envelope | undefined {
  if (!value.startsWith(ENC_PREFIX)) return undefined;
  const rest = value.slice(ENC_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0) return undefined;
  const keyId = rest.slice(0, colon);
  const body = rest.slice(colon + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  return { keyId, body };
}

/** The key id of a stored value, or undefined when it is plaintext. An unparseable enc: value gives '?'. */
export function keyIdOf(value: unknown): string | undefined {
  if (!isEncrypted(value)) return undefined;
  return parseEnvelope(value)?.keyId ?? '?';
}

/** The additional authenticated data: a value moved to another store, user or field fails to open. */
export function aadFor(storeId: string, email: string, field: string): Buffer {
  return Buffer.from(`box-qc:v1\0${storeId}\0${email}\0${field}`, 'utf8');
}

/** The record's value at a token path, when it is a string. */
export function valueAt(record: Record<string, unknown> | undefined, path: readonly string[]): string | undefined {
  let cur: unknown = record;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' ? cur : undefined;
}

/**
 * Frozen documents and the bytes they were read from (notePlaintextBytes), until holdsCiphertext asks: then
 * whether the bytes can hold an encrypted value (issue 20: the walk of 10,000 records was ~30 ms of every
 * keyless refresh). Looked at only when asked: a refresh reads the store whole several times and asks once.
 */
const documentBytes = new WeakMap<object, Buffer | 'plaintext'>();

/**
 * Called by the file store for a frozen document and the bytes it was parsed from. A JSON string can spell
 * `enc:` only literally or with \u escapes (no other escape makes a letter or a colon), so bytes holding
 * neither `enc:` nor `\u` hold no encrypted value: the document is plaintext. Conservative: a name with
 * "enc:" or any \u escape just leaves the walk to holdsCiphertext.
 */
export function notePlaintextBytes(doc: object, bytes: Buffer): void {
  if (documentBytes.has(doc) || !Object.isFrozen(doc)) return;
  documentBytes.set(doc, bytes);
}

/**
 * Whether store bytes can hold no encrypted value: a JSON string can spell `enc:` only literally or with \\u
 * escapes (no other escape makes a letter or a colon). Conservative: "enc:" in a name, or any \\u escape, is
 * false.
 */
export function bytesHoldNoCiphertext(bytes: Buffer): boolean {
  return bytes.indexOf('enc:') < 0 && bytes.indexOf('\\u') < 0;
}

/** Whether `doc` was read from bytes that hold no encrypted value (notePlaintextBytes). */
function isPlaintextDocument(doc: object): boolean {
  const noted = documentBytes.get(doc);
  if (noted === undefined || noted === 'plaintext') return noted === 'plaintext';
  const plain = bytesHoldNoCiphertext(noted);
  if (plain) documentBytes.set(doc, 'plaintext');
  else documentBytes.delete(doc);
  return plain;
}

/** Whether each (frozen, shared) record holds a ciphertext, computed once per record object. */
const recordHoldsCiphertext = new WeakMap<object, boolean>();

/**
 * Whether any value in the document is encrypted: the question firstEncrypted answers, without sorting, and
 * with each unchanged record judged once (records are shared, frozen objects across reads and commits), so
 * asking it on every update of a big store costs a walk of object identities (issue 17 bench).
 */
export function holdsCiphertext(doc: { users: Record<string, Record<string, unknown>> }): boolean {
  if (isPlaintextDocument(doc)) return false;
  for (const email in doc.users) {
    const rec = doc.users[email];
    if (rec === undefined) continue;
    let held = recordHoldsCiphertext.get(rec);
    if (held === undefined) {
      held = TOKEN_PATHS.some((path) => isEncrypted(valueAt(rec, path)));
      if (Object.isFrozen(rec)) recordHoldsCiphertext.set(rec, held);
    }
    if (held) return true;
  }
  return false;
}

/** The first encrypted value of a document, for messages: which user and key id. */
export function firstEncrypted(doc: {
  users: Record<string, Record<string, unknown>>;
}): { email: string; keyId: string } | undefined {
  for (const email of Object.keys(doc.users).sort()) {
    for (const path of TOKEN_PATHS) {
      const id = keyIdOf(valueAt(doc.users[email], path));
      if (id !== undefined) return { email, keyId: id };
    }
  }
  return undefined;
}
