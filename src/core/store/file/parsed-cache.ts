/**
 * The last store bytes this process parsed, with what came of them (issue 8, issue 20). `refresh --all` re-reads
 * the store under every user's lock and every group commit re-reads it under the store lock: decoding, parsing,
 * validating and then copying a 1,000-user file (0.5 MB) each time was most of a 1,000-user run. A read whose
 * bytes equal the cached bytes is answered from the entry. Byte equality (a memcmp), not mtime or size, decides.
 *
 * What a whole read (read(), a commit's re-read) gets is deep-frozen, so no reader can change what the next one
 * sees (a write to it throws: ES modules are strict). One-user reads (readUser) get a frozen slice: their own
 * frozen record and the frozen top-level fields, never the document whole, so the entry can keep what they
 * parsed unfrozen and freeze it only when a whole read wants it. States of the entry:
 *   seen    parsed and validated whole once; that document went to its reader unfrozen, nothing is kept. A
 *           process that reads the store once (status, most runs) never pays for freezing.
 *   raw     the parsed JSON, validated only in part (a display-only one-user read, ReadUserOptions).
 *   valid   the document validated whole, not handed out whole yet (a one-user read).
 *   frozen  the document validated whole and frozen: what every whole read of these bytes gets.
 */
import { deepFreeze } from '../document-copy.js';
import { freezeValidRecord, freezeValidated, isKeyedAsInFile, markKeyedAsInFile, markValidFrozen } from '../format.js';
import {
  equalsSpliced,
  FEW_KEYS,
  findMembers,
  recordCount,
  recordLayout,
  type RecordLayout,
  type SplicedBytes,
} from './record-layout.js';
import type { StoreDocument } from '../types.js';

/**
 * `layout`: where the records sit in `bytes` (record-layout.ts), once a commit asked; null when unusable.
 * `bytes`: what a read or a commit had, or the pieces a splice commit wrote; replaced by the buffer of the
 * first read found equal to them, so that every later look at that buffer is a comparison of references.
 */
type Entry = { layout?: RecordLayout | null; bytes: Buffer | SplicedBytes } & (
  { state: 'seen' } | { state: 'raw'; raw: unknown } | { state: 'valid' | 'frozen'; doc: StoreDocument }
);

export class ParsedCache {
  private entry: Entry | undefined;

  private matches(bytes: Buffer): Entry | undefined {
    const e = this.entry;
    if (e === undefined || e.bytes === bytes) return e;
    if (!(Buffer.isBuffer(e.bytes) ? e.bytes.equals(bytes) : equalsSpliced(e.bytes, bytes))) return undefined;
    // The same bytes: a read looks at its buffer several times (read-store.ts, a commit's splice).
    e.bytes = bytes;
    return e;
  }

  /** The frozen document of exactly these bytes, if they were validated whole (frozen now if not yet). */
  get(bytes: Buffer): StoreDocument | undefined {
    const e = this.matches(bytes);
    if (e?.state === 'valid') {
      this.entry = { bytes, state: 'frozen', doc: markValidFrozen(freezeValidated(e.doc)), layout: e.layout };
      return this.entry.doc;
    }
    return e?.state === 'frozen' ? e.doc : undefined;
  }

  /**
   * The document of these bytes validated whole, frozen or not: for one-user slices only (read-store.ts), which
   * freeze what they hand out of it. Never to be handed out whole.
   */
  validated(bytes: Buffer): StoreDocument | undefined {
    const e = this.matches(bytes);
    return e?.state === 'valid' || e?.state === 'frozen' ? e.doc : undefined;
  }

  /** The JSON a display-only read parsed from exactly these bytes (validated in part only), if it was kept. */
  raw(bytes: Buffer): unknown {
    const e = this.matches(bytes);
    return e?.state === 'raw' ? e.raw : undefined;
  }

  /** After a display-only one-user read parsed `bytes`. */
  keepRaw(bytes: Buffer, raw: unknown): void {
    this.entry = { bytes, state: 'raw', raw };
  }

  /** After a one-user read validated `doc` whole from `bytes`: no reader holds it whole. */
  keepValid(bytes: Buffer, doc: StoreDocument): void {
    this.entry = { bytes, state: 'valid', doc };
  }

  /**
   * After a whole read validated `doc` from `bytes` and is about to hand it out: caches (and freezes) it when the
   * same bytes were parsed before, and returns it.
   */
  parsed(bytes: Buffer, doc: StoreDocument): StoreDocument {
    if (this.matches(bytes) !== undefined)
      this.entry = { bytes, state: 'frozen', doc: markValidFrozen(deepFreeze(doc)) };
    else this.entry = { bytes, state: 'seen' };
    return doc;
  }

  /**
   * Remembers (and freezes) the document a commit just wrote as these bytes: the caller must not change it
   * afterwards. `doc` passed checkWritable whole, so every record it froze there is marked valid already.
   */
  set(bytes: Buffer, doc: StoreDocument): void {
    this.entry = { bytes, state: 'frozen', doc: freezeValidated(doc) };
  }

  /**
   * After a splice commit (file-store.ts) wrote `doc` as these bytes: `doc` is the batch's result on a document
   * validated whole, its records `changed` validated (checkWritableChanged). Kept as validated, not frozen: the
   * records the batch did not touch are the previous document's, frozen only where a reader took them; the
   * changed ones, which the batch's callers may hold, are frozen now. A whole read freezes the rest (get).
   */
  setSpliced(
    bytes: SplicedBytes,
    doc: StoreDocument,
    base: StoreDocument,
    layout: RecordLayout,
    changed: Iterable<string>,
  ): void {
    for (const key of changed) freezeValidRecord(doc.users[key]);
    // A splice changes no key: the new map is keyed as the file still is when its base was.
    if (isKeyedAsInFile(base.users)) markKeyedAsInFile(doc.users);
    // The map too: a mutation's `d.users` (a view of this map) may outlive its update (review finding 1).
    Object.freeze(doc.users);
    this.entry = { bytes, state: 'valid', doc, layout };
  }

  /**
   * Where the records of `keys` sit in exactly these bytes, which a read parsed (so JSON.parse accepted them)
   * into the users map `users`, kept with the entry. Undefined when the bytes are not the entry's, or the file
   * cannot be vouched for. A few keys (a refresh's marker and save) are found alone, walking from the nearer
   * end of the file (findMembers, a partial layout); otherwise, or when that gives up, the whole file is
   * scanned once, and refused when it has more members than `users` has keys (a duplicate key: JSON.parse
   * keeps the last, and a splice by member number must not guess which text that was). A splice keeps the
   * members and their count, so its layout holds for its bytes too.
   */
  layout(bytes: Buffer, users: object, keys: readonly string[]): RecordLayout | undefined {
    const e = this.matches(bytes);
    if (e === undefined || e.layout === null) return undefined;
    const known = e.layout;
    if (known !== undefined && (known.partial === undefined || keys.every((k) => known.byKey?.has(k)))) return known;
    if (keys.length <= FEW_KEYS) {
      const count = known?.partial?.count ?? Object.keys(users).length;
      const partial = findMembers(bytes, keys, count, isKeyedAsInFile(users));
      if (partial !== undefined) return (e.layout = partial);
    }
    const found = recordLayout(bytes);
    e.layout = found !== undefined && recordCount(found) === Object.keys(users).length ? found : null;
    return e.layout ?? undefined;
  }
}
