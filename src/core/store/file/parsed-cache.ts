/**
 * The last store bytes this process parsed and validated, with their document (issue 8). `refresh --all` re-reads
 * the store under every user's lock and every group commit re-reads it under the store lock: decoding, parsing,
 * validating and then copying a 1,000-user file (0.5 MB) each time was most of a 1,000-user run. A read whose
 * bytes equal the cached bytes gets the cached document itself, deep-frozen, so no reader can change what the
 * next one sees (a write to it throws: ES modules are strict). Byte equality (a memcmp), not mtime or size,
 * decides.
 */
import { deepFreeze } from '../document-copy.js';
import type { StoreDocument } from '../types.js';

export class ParsedCache {
  /** `doc` is undefined while these bytes have been parsed only once. */
  private entry: { bytes: Buffer; doc: StoreDocument | undefined } | undefined;

  /** The frozen document parsed from exactly these bytes, if they are the cached ones. */
  get(bytes: Buffer): StoreDocument | undefined {
    const e = this.entry;
    return e?.doc !== undefined && e.bytes.equals(bytes) ? e.doc : undefined;
  }

  /**
   * After parsing `bytes` into `doc`: caches (and freezes) doc only when the same bytes were parsed before, and
   * returns it. A process that reads the store once (status, token: most runs) never pays for freezing; one that
   * re-reads (refresh --all) pays one extra parse.
   */
  parsed(bytes: Buffer, doc: StoreDocument): StoreDocument {
    const again = this.entry !== undefined && this.entry.doc === undefined && this.entry.bytes.equals(bytes);
    this.entry = { bytes, doc: again ? deepFreeze(doc) : undefined };
    return doc;
  }

  /** Remembers (and freezes) the document for these bytes: the caller must not change it afterwards. */
  set(bytes: Buffer, doc: StoreDocument): void {
    this.entry = { bytes, doc: deepFreeze(doc) };
  }
}
