/**
 * The store every opener returns (issue 19): the backend, with its token values sealed on the way in. The one
 * place a pair is encrypted is here, in update(): whatever mutation writes a new access or refresh token
 * (connect's and the refresh's saveUserTokens, a fenced-out pair set aside, serve, migrate) has it sealed under
 * the current key before the backend commits, in the same mutation, so a plaintext token is never written to
 * a store while a key is configured. Values are opened by reveal() where a token is used (the refresh POST, the
 * access token handed out, the revoke). Only values that changed are sealed: a plaintext token already stored
 * stays byte-identical until its own next write (or `store encrypt`), so the fence on the refresh token a
 * refresh started from still matches. Without a key, a plaintext write into a store holding encrypted values
 * is refused (never a mixed store written behind the operator's back).
 */
import { normalizeStoreEmail } from '../format.js';
import { writeView } from '../write-view.js';
import type { ReadUserOptions, StoreDocument, StoredUser, TokenConversion, TokenCrypto, TokenStore } from '../types.js';
import {
  aadFor,
  firstEncrypted,
  holdsCiphertext,
  isEncrypted,
  keyIdOf,
  parseEnvelope,
  TOKEN_PATHS,
  valueAt,
} from './envelope.js';
import {
  keyMissingError,
  keyUnknownError,
  StoreHoldsCiphertextError,
  storeIdMissingError,
  tokenAuthError,
  tokenFormatError,
} from './errors.js';
import type { Keyring } from './keyring.js';

type Aead = typeof import('./aead.js');

export function withTokenCrypto(inner: TokenStore, keyring: Keyring | undefined): TokenStore {
  const location = inner.location;
  let aead: Aead | undefined;
  const loadAead = async (): Promise<Aead> => (aead ??= await import('./aead.js'));
  /** The store identity last read; a value is opened against it, re-read once on a failure. */
  let knownStoreId: string | undefined;
  const storeIdNow = async (): Promise<string> => {
    const id = (await inner.read()).store_id;
    knownStoreId = typeof id === 'string' && id !== '' ? id : undefined;
    return knownStoreId ?? '';
  };

  const openValue = (a: Aead, email: string, field: string, stored: string, storeId: string): string => {
    const env = parseEnvelope(stored);
    if (!env) throw tokenFormatError(location, email, field);
    if (!keyring) throw keyMissingError(location, email, env.keyId);
    const key = keyring.byId.get(env.keyId);
    if (!key) throw keyUnknownError(location, email, env.keyId);
    const out = a.open(key, aadFor(storeId, email, field), env);
    if (out === undefined) throw tokenAuthError(location, email, env.keyId, field);
    return out;
  };

  const tokenCrypto: TokenCrypto = {
    currentKeyId: keyring?.current.id,
    async reveal(rawEmail, field, stored) {
      if (!isEncrypted(stored)) return stored;
      const email = normalizeStoreEmail(rawEmail);
      // Refusals that need no crypto come first: no key, an unknown key id.
      const env = parseEnvelope(stored);
      if (!env) throw tokenFormatError(location, email, field);
      if (!keyring) throw keyMissingError(location, email, env.keyId);
      if (!keyring.byId.has(env.keyId)) throw keyUnknownError(location, email, env.keyId);
      const a = await loadAead();
      if (knownStoreId !== undefined) {
        try {
          return openValue(a, email, field, stored, knownStoreId);
        } catch {
          // the identity may have changed (decrypt, then encrypt again): read it once more below
        }
      }
      return openValue(a, email, field, stored, await storeIdNow());
    },
    async convert(rawEmail, mode) {
      const email = normalizeStoreEmail(rawEmail);
      if (!keyring) throw keyMissingError(location, email, '(none)');
      const a = await loadAead();
      // The backend's own update: the values written here are exactly the ones meant (plaintext for decrypt).
      return inner.update((doc) => convertRecord(doc, email, mode, keyring, a, openValue, location));
    },
    async forgetIdentityIfPlain() {
      return inner.update((doc) => {
        if (!Object.hasOwn(doc, 'store_id') || firstEncrypted(doc) !== undefined) return false;
        delete doc.store_id;
        return true;
      });
    },
  };

  /** `known`: the top-level fields the backend's own check just read (WriteReservation.topLevel). */
  const refuseWithoutKey = async (known?: StoreDocument): Promise<void> => {
    if (keyring) return;
    // Cheap first (PostgreSQL: one row, whatever the store's size: issue 20): `store_id` exists exactly while
    // values are encrypted (created with the first, removed by `store decrypt`); only then look for one to name.
    const scoped = inner.scopedLoads === true && inner.readUser !== undefined;
    const top = known ?? (scoped ? await inner.readUser!('') : await inner.read());
    // A whole document in hand (file store): judged by its values, so ciphertext whose store_id was removed by
    // hand is refused here too, before a code or refresh token is spent (review of 0440c4c, finding 1).
    if (scoped && typeof top.store_id !== 'string') return;
    if (!scoped && !holdsCiphertext(top)) return;
    const enc = firstEncrypted(scoped ? await inner.read() : top);
    if (enc) throw keyMissingError(location, enc.email, enc.keyId);
  };

  /**
   * Keyless reservations whose check waits for the in-flight marker's commit (WriteReservation
   * plaintextCheckedAtCommit): while one is open, a marker update is made plaintextOnly.
   */
  let checksAtCommit = 0;

  return {
    location,
    read: () => inner.read(),
    withUserLock: (email, fn, options) => inner.withUserLock(email, fn, options),
    async update(mutate, options) {
      const a = keyring ? await loadAead() : undefined;
      const sealed = (doc: StoreDocument) => {
        const { result, changed } = runTracked(doc, mutate);
        sealNewValues(doc, changed, keyring && a ? { keyring, aead: a } : undefined, location);
        return result;
      };
      if (keyring || options?.beforePost !== true || checksAtCommit === 0) return inner.update(sealed, options);
      // The keyless check before a refresh POST, made by the marker's commit under the store lock (reserveWrite):
      // refused there, nothing of the marker is written and the error names a user and the key id.
      for (let attempt = 1; ; attempt++) {
        try {
          return await inner.update(sealed, { ...options, plaintextOnly: true });
        } catch (err) {
          if (!(err instanceof StoreHoldsCiphertextError)) throw err;
          // Names the user and the key; a store decrypted since (it does not throw) gets the marker once more.
          await refuseWithoutKey();
          if (attempt === 2) throw err;
        }
      }
    },
    async ensureWritable() {
      await inner.ensureWritable();
      // connect checks this before the browser step: no code is spent on a pair that could not be stored.
      await refuseWithoutKey();
    },
    // The refresh path's check before the POST (session.ts step 3): without a key, a store that holds
    // encrypted values is refused before a refresh token is spent (review of issue 19, finding 1). Here, or,
    // when the backend checks at commit (the file store), by the in-flight marker's commit: that is after this
    // reservation (another process's `store encrypt` may seal a user meanwhile: review finding 2 of the splice
    // commit), under the store lock, and needs no whole read of its own (issue 20).
    async reserveWrite() {
      const reservation = await inner.reserveWrite();
      if (!keyring && reservation.plaintextCheckedAtCommit === true) {
        checksAtCommit += 1;
        let released = false;
        return {
          ...reservation,
          release: async () => {
            if (!released) {
              released = true;
              checksAtCommit -= 1;
            }
            await reservation.release();
          },
        };
      }
      try {
        await refuseWithoutKey(reservation.topLevel);
      } catch (err) {
        await reservation.release().catch(() => undefined);
        throw err;
      }
      return reservation;
    },
    inspect: () => inner.inspect(),
    close: () => inner.close(),
    tokenCrypto,
    // One user's reads and the paged listing (issue 20) pass through: values stay sealed, as in read().
    ...(inner.readUser
      ? { readUser: (email: string, options?: ReadUserOptions) => inner.readUser!(email, options) }
      : {}),
    ...(inner.scopedLoads === true ? { scopedLoads: true } : {}),
    ...(inner.listUsers ? { listUsers: (options?: { pageSize?: number }) => inner.listUsers!(options) } : {}),
    // The audit log (issue 18) belongs to the backend; the wrapper only seals token values.
    ...(inner.history ? { history: inner.history } : {}),
  };
}

/** The document's identity for additional data, created (inside the same update) by the first sealed value. */
function ensureStoreId(doc: StoreDocument, a: Aead, location: string): string {
  if (typeof doc.store_id !== 'string' || doc.store_id === '') {
    // Encrypted values without their identity (store_id removed by hand or by another tool): a new identity
    // would make them undecryptable for good, and restoring the old one would then break the new values
    // (review of issue 19, finding 5). Refuse; the fix is to put store_id back.
    const enc = firstEncrypted(doc);
    if (enc) throw storeIdMissingError(location, enc.email);
    doc.store_id = a.newStoreId();
  }
  return doc.store_id as string;
}

/**
 * Runs a mutation and tells which users it set or deleted, each with its record from before: only those can
 * hold a new value. A copy of every user per update (and a walk of all of them after it) was the largest part
 * of this wrapper's cost on a 10,000-user store (issue 20 bench). A mutation that swaps the whole map has
 * every key of the new map judged against the old one.
 */
function runTracked<T>(
  doc: StoreDocument,
  mutate: (doc: StoreDocument) => T,
): { result: T; changed: Map<string, StoredUser | undefined> } {
  const users = doc.users;
  const changed = new Map<string, StoredUser | undefined>();
  const view = writeView(users, (k) => {
    if (!changed.has(k)) changed.set(k, Object.hasOwn(users, k) ? users[k] : undefined);
  });
  doc.users = view;
  let result: T;
  try {
    result = mutate(doc);
  } finally {
    if (doc.users === view) doc.users = users;
  }
  if (doc.users !== users)
    for (const k of Object.keys(doc.users))
      if (!changed.has(k)) changed.set(k, Object.hasOwn(users, k) ? users[k] : undefined);
  return { result, changed };
}

function sealNewValues(
  doc: StoreDocument,
  changed: Map<string, StoredUser | undefined>,
  sealer: { keyring: Keyring; aead: Aead } | undefined,
  location: string,
): void {
  for (const [email, prev] of changed) {
    if (!Object.hasOwn(doc.users, email)) continue;
    const rec = doc.users[email]!;
    if (rec === prev) continue;
    const updates: Array<[readonly string[], string]> = [];
    for (const path of TOKEN_PATHS) {
      const v = valueAt(rec, path);
      if (v === undefined || v === '' || isEncrypted(v) || v === valueAt(prev, path)) continue;
      if (!sealer) {
        // A user whose stored value is plaintext keeps a plaintext value: this is a rotated pair being saved
        // (Box already killed the old token), and a keyless process only gets here if the store gained its
        // first encrypted value after the checks before the POST (reserveWrite, ensureWritable). Losing the
        // rotation would be worse; `store encrypt` seals it later. Nothing plaintext replaces a ciphertext.
        const prevValue = valueAt(prev, path);
        if (prevValue !== undefined && prevValue !== '' && !isEncrypted(prevValue)) continue;
        // holdsCiphertext first: cheap on every update of a big plaintext store (issue 17 bench). store_id
        // too: a one-user update on PostgreSQL loads that user's row only, so the others' ciphertext is not in
        // `doc`, but store_id (a top-level field, always loaded) exists exactly while values are encrypted
        // (review of issue 20's fan-out, final review finding 2).
        if (typeof doc.store_id === 'string' || holdsCiphertext(doc)) {
          const enc = firstEncrypted(doc);
          throw keyMissingError(location, email, enc?.keyId ?? '?');
        }
        return;
      }
      const storeId = ensureStoreId(doc, sealer.aead, location);
      updates.push([path, sealer.aead.seal(sealer.keyring.current, aadFor(storeId, email, path.join('.')), v)]);
    }
    if (updates.length > 0) doc.users[email] = withValues(rec, updates);
  }
}

/**
 * The record with `updates` applied. A record the mutation made itself is changed in place, so the object
 * it returned (saveUserTokens' saved record) holds what was stored; a frozen (shared snapshot) one is copied.
 */
function withValues(rec: StoredUser, updates: Array<[readonly string[], string]>): StoredUser {
  const target: Record<string, unknown> = Object.isFrozen(rec) ? { ...rec } : rec;
  for (const [path, value] of updates) {
    if (path.length === 1) target[path[0]!] = value;
    else target[path[0]!] = { ...(target[path[0]!] as Record<string, unknown>), [path[1]!]: value };
  }
  return target as StoredUser;
}

type OpenValue = (a: Aead, email: string, field: string, stored: string, storeId: string) => string;

function convertRecord(
  doc: StoreDocument,
  email: string,
  mode: TokenConversion,
  keyring: Keyring,
  a: Aead,
  openValue: OpenValue,
  location: string,
): 'changed' | 'unchanged' | 'missing' {
  const rec = Object.hasOwn(doc.users, email) ? doc.users[email] : undefined;
  if (!rec) return 'missing';
  const currentId = typeof doc.store_id === 'string' ? doc.store_id : '';
  const updates: Array<[readonly string[], string]> = [];
  for (const path of TOKEN_PATHS) {
    const v = valueAt(rec, path);
    if (v === undefined || v === '') continue;
    const field = path.join('.');
    const enc = isEncrypted(v);
    if (mode === 'decrypt') {
      if (enc) updates.push([path, openValue(a, email, field, v, currentId)]);
      continue;
    }
    if (enc && (mode === 'encrypt' || keyIdOf(v) === keyring.current.id)) continue;
    const plain = enc ? openValue(a, email, field, v, currentId) : v;
    const storeId = ensureStoreId(doc, a, location);
    updates.push([path, a.seal(keyring.current, aadFor(storeId, email, field), plain)]);
  }
  if (updates.length === 0) return 'unchanged';
  doc.users[email] = withValues({ ...rec }, updates);
  return 'changed';
}
