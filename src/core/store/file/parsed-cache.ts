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
import { freezeValidated, markValidFrozen } from '../format.js';
import type { StoreDocument } from '../types.js';

type Entry =
  | { bytes: Buffer; state: 'seen' }
  | { bytes: Buffer; state: 'raw'; raw: unknown }
  | { bytes: Buffer; state: 'valid' | 'frozen'; doc: StoreDocument };

export class ParsedCache {
  private entry: Entry | undefined;

  private matches(bytes: Buffer): Entry | undefined {
    const e = this.entry;
    return e !== undefined && e.bytes.equals(bytes) ? e : undefined;
  }

  /** The frozen document of exactly these bytes, if they were validated whole (frozen now if not yet). */
  get(bytes: Buffer): StoreDocument | undefined {
    const e = this.matches(bytes);
    if (e?.state === 'valid') {
      this.entry = { bytes, state: 'frozen', doc: markValidFrozen(deepFreeze(e.doc)) };
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
}
